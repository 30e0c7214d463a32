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
            # What is not done yet (waiting, being processed, failed, parked for a person), in arrival
            # order: the retry job's queue and the backlog's figures, small however many were processed.
            models.Index(
                fields=["received_at", "id"],
                condition=Q(status__in=["pending", "processing", "failed", "dead"]),
                name="delivery_unfinished_idx",
            ),
        ]

    def __str__(self):
        return f"Delivery #{self.pk} ({self.get_status_display().lower()}, {self.size} bytes)"

    @property
    def text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class KeptItem(models.Model):
    """One item of a delivery that the inbox did not apply, kept with the reason for an admin to read.

    A delivery is refused whole only when it is not a WhatsApp delivery at all; inside one, an item that
    cannot be understood (a message without an id, a status in an unknown shape), that the inbox keeps
    apart on purpose (a group's message), or that refers to nothing we know (a status for a message we
    never sent) is kept here, and everything else in the delivery is applied.
    """

    class Kind(models.TextChoices):
        NOT_UNDERSTOOD = "not_understood", "Not understood"
        KEPT_APART = "kept_apart", "Kept apart on purpose"
        UNKNOWN_MESSAGE = "unknown_message", "About a message we do not know"
        UNKNOWN_TEMPLATE = "unknown_template", "About a template we do not hold"

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="kept_items")
    where = models.CharField(max_length=200, help_text="Where in the delivery, e.g. entry[0].changes[0].")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    field = models.CharField("webhook field", max_length=64, blank=True)
    reason = models.TextField()
    data = models.JSONField(null=True, blank=True, help_text="The item as received.")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["delivery", "where"], name="kept_item_once")]
        indexes = [models.Index(fields=["-recorded_at", "-id"], name="kept_item_recent_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.where} of delivery #{self.delivery_id}"
