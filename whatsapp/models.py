"""Webhook deliveries as the platform sent them: stored before they are acknowledged, so none is lost."""

from django.db import models
from django.db.models import Q


class WebhookDelivery(models.Model):
    """One signed POST from the platform, kept byte for byte.

    Stored (status `pending`) before the 200 goes back; processed inline or by a task; a delivery that
    failed to process is retried by a periodic job (`failed` with `next_attempt_at`), and after too
    many attempts parks as `dead` for a person to look at. Processing is idempotent, so replaying a
    delivery (or the platform's own retries) changes nothing twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be processed"
        PROCESSING = "processing", "Being processed"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed, will be retried"
        DEAD = "dead", "Failed too often, needs a person"
        REJECTED = "rejected", "Rejected: malformed"

    received_at = models.DateTimeField()
    body = models.BinaryField(help_text="The raw request body, exactly as signed by the platform.")
    signature = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    summary = models.JSONField(
        default=dict, blank=True, help_text="What processing did: counts per event kind."
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="delivery_recent_idx"),
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "processing", "failed"]),
                name="delivery_retry_idx",
            ),
        ]

    def __str__(self):
        return f"Delivery #{self.pk} ({self.get_status_display().lower()}, {self.size} bytes)"

    @property
    def text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")
