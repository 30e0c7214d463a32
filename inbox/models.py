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


NOTE_MAX_CHARS = 2000


class Note(models.Model):
    """A private note in a customer's thread: for colleagues only, never sent to the customer (no Message
    row, no task, no platform call). Its author may delete it; nobody edits it."""

    customer = models.ForeignKey("conversations.Customer", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=NOTE_MAX_CHARS)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["customer", "created_at"], name="note_thread_idx")]

    def __str__(self):
        return f"Note by {self.author} on {self.customer} at {self.created_at:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """`user` was mentioned (@name) in `note`: unread until they open it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("conversations.Customer", on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "note"], name="notified_once_per_note")]
        indexes = [
            # The bell's count (this user's unread) and the list (this user's, newest first).
            models.Index(
                fields=["user"], condition=models.Q(read_at__isnull=True), name="notification_unread_idx"
            ),
            models.Index(fields=["user", "-created_at"], name="notification_list_idx"),
        ]

    def __str__(self):
        return f"{self.user} mentioned in note #{self.note_id}"


class CannedReply(models.Model):
    """A reply text an agent inserts with `/` in the reply box: personal (`owner`, managed by that agent)
    or the team's (no owner, managed by admins). Variables: {{name}}, {{first_name}}, {{agent}} and any
    contact attribute's key (inbox.canned fills them)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(
        max_length=80, help_text="What the / list shows and searches, e.g. Order status."
    )
    body = models.TextField(max_length=4096)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "canned replies"
        permissions = [("manage_team_replies", "Can manage the team's canned replies")]
        indexes = [models.Index(fields=["owner", "title"], name="canned_reply_owner_idx")]

    def __str__(self):
        return self.title

    @property
    def is_team(self) -> bool:
        return self.owner_id is None
