"""What the inbox keeps beyond the domain's data: what each agent has read."""

from django.conf import settings
from django.db import models


class CustomerSeen(models.Model):
    """When `agent` last opened `customer`'s thread: the customer's messages after it are unread for that
    agent (each agent has their own unread counts)."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("conversations.Customer", on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "customer"], name="customer_seen_once")]
        # The unique constraint's index serves the list's lookup (this agent, this customer).

    def __str__(self):
        return f"{self.agent} saw {self.customer} at {self.seen_at:%Y-%m-%d %H:%M}"
