"""Customers, their messages, and the billable conversations our outbound messages open.

Rules are not here: they live in policy.py (pure) and are applied by services.py. Models hold data,
the invariants the database can enforce, and the indexes the reads need.
"""

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from conversations import identifiers, policy
from conversations.phones import phone_from_wa_id
from conversations.search import folded_name

wa_id_validator = RegexValidator(r"^[0-9]{1,20}$", "A WhatsApp id is the phone number in digits only.")
user_id_validator = RegexValidator(
    identifiers.USER_ID, "A business-scoped user id is one word of letters and digits, e.g. US.1349…."
)


class ThreadStatus(models.TextChoices):
    """Where the customer's thread stands in the team's work (conversations.services.status). Snoozed
    holds until `snoozed_until`: reads compare it with now, so a snooze ends at its instant by itself."""

    OPEN = "open", "Open"
    PENDING = "pending", "Pending (waiting for the customer)"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"


class Customer(models.Model):
    """One WhatsApp user (rules.md, "Customer"): known by a phone number, a business-scoped user id
    (BSUID), or both; either may be learned first and the other later. One window and one set of
    conversations, whichever identifier a message carries (conversations.identity links them)."""

    wa_id = models.CharField(
        "phone number (WhatsApp id)",
        max_length=20,
        unique=True,
        null=True,
        blank=True,
        validators=[wa_id_validator],
        help_text="The customer's phone number in digits, when the platform shares it.",
    )
    user_id = models.CharField(
        "business-scoped user id",
        max_length=identifiers.USER_ID_MAX,
        unique=True,
        null=True,
        blank=True,
        validators=[user_id_validator],
        help_text="The platform's id for this user in our business portfolio (BSUID), e.g. US.1349….",
    )
    parent_user_id = models.CharField(
        "parent business-scoped user id", max_length=identifiers.USER_ID_MAX, blank=True
    )
    username = models.CharField(
        max_length=identifiers.USERNAME_MAX, blank=True, help_text="The WhatsApp username (display only)."
    )
    name = models.CharField(max_length=256, blank=True, help_text="The WhatsApp profile name.")
    phone_e164 = models.CharField("phone", max_length=24, blank=True, editable=False)
    country = models.CharField(max_length=2, blank=True, editable=False, db_index=True)
    # R1: the platform timestamp of the latest customer message (the window ends 24 h after it).
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # R6: the latest referral (click-to-WhatsApp ad, page button) that made the customer eligible for
    # a free-entry-point conversation. Eligibility lasts 24 h and is used up by opening one.
    fep_referral_at = models.DateTimeField("free-entry-point referral at", null=True, blank=True)
    # The platform refused a free-form message with 131047 (more than 24 h since the customer wrote) at
    # this instant: the window counts as closed from then until the customer writes again (R1, R9).
    platform_window_closed_at = models.DateTimeField(null=True, blank=True)
    # The customer told WhatsApp to stop marketing messages from us (user_preferences webhook), at this
    # instant; cleared when they resume. The platform refuses marketing templates meanwhile (131050).
    marketing_stopped_at = models.DateTimeField(null=True, blank=True)
    # The latest stop or resume applied: an older one arriving late (webhooks come in any order) is stale.
    marketing_preference_at = models.DateTimeField(null=True, blank=True)
    # When the platform last told us this user changed number or BSUID: identifiers in messages older
    # than that are stale and never overwrite the current ones.
    identity_changed_at = models.DateTimeField(null=True, blank=True)
    # The latest message in either direction: the inbox orders by it.
    last_activity_at = models.DateTimeField(default=timezone.now)
    # The latest turn (reactions and platform notices aside, policy.NOT_A_TURN): who spoke last, for the
    # inbox's "needs reply", kept by the services that record messages (conversations.services).
    last_turn_at = models.DateTimeField(null=True, blank=True)
    last_turn_direction = models.CharField(max_length=8, blank=True)
    # The name and username folded for search (accents and case aside: "sofia" finds "Sofía").
    search_name = models.CharField(max_length=400, blank=True, editable=False)
    # The agent who owns the customer in the inbox. (What each agent has read: inbox.SeenCustomer.)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_customers",
    )
    # The team the thread belongs to (with or without an agent): "Team" filter, auto-assignment's queue.
    team = models.ForeignKey(
        "Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    labels = models.ManyToManyField("Label", through="CustomerLabel", related_name="customers", blank=True)
    # Superseded by inbox.CustomerSeen (what each agent has read), which inbox 0005 filled from it. Kept,
    # unused, so the domain's migrations never wait on the inbox's: drop it in a later release.
    agent_last_seen_at = models.DateTimeField(null=True, blank=True)
    # What WhatsApp was told the team has read (whatsapp.services.mark_read): the customer's latest message
    # marked read there (which marks the earlier ones), when the platform accepted that (empty while the
    # call is under way, or after it failed for good), and the latest customer message instant the marking
    # has dealt with: opening the thread asks for a marking only when last_inbound_at is past it.
    platform_read_wamid = models.CharField("marked read on WhatsApp", max_length=128, blank=True)
    platform_read_at = models.DateTimeField("WhatsApp accepted the read mark at", null=True, blank=True)
    platform_read_through = models.DateTimeField(null=True, blank=True)
    # When WhatsApp was last asked to show the customer that an agent is typing (whatsapp.reading): at most
    # once per 20 s per customer, whichever agent types and whichever process serves them.
    typing_indicated_at = models.DateTimeField(null=True, blank=True)
    # The thread's place in the team's work: open, pending, snoozed until a time, resolved. Changed only by
    # conversations.services.status (and reopened by receive_message when the customer writes), each
    # change stamped with its instant and who made it (None: the customer's message, or the snooze's end).
    status = models.CharField(max_length=8, choices=ThreadStatus.choices, default=ThreadStatus.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(wa_id__isnull=False) | Q(user_id__isnull=False),
                name="customer_has_identifier",
            ),
            models.CheckConstraint(condition=~Q(user_id=""), name="customer_user_id_not_empty"),
            models.CheckConstraint(condition=Q(status__in=ThreadStatus.values), name="customer_status_valid"),
            # A snoozed thread has its end; no other status keeps one.
            models.CheckConstraint(
                condition=Q(status=ThreadStatus.SNOOZED, snoozed_until__isnull=False)
                | (~Q(status=ThreadStatus.SNOOZED) & Q(snoozed_until__isnull=True)),
                name="customer_snooze_has_an_end",
            ),
        ]
        indexes = [
            models.Index(fields=["-last_activity_at", "-id"], name="customer_activity_idx"),
            models.Index(fields=["assigned_to", "-last_activity_at", "-id"], name="customer_assigned_idx"),
            models.Index(fields=["team", "-last_activity_at", "-id"], name="customer_team_idx"),
            models.Index(fields=["last_inbound_at"], name="customer_window_idx"),
            # The inbox's "needs reply": open windows whose latest turn is the customer's.
            models.Index(
                fields=["last_inbound_at"],
                condition=Q(last_turn_direction="inbound"),
                name="customer_needs_reply_idx",
            ),
            models.Index(
                fields=["parent_user_id"], condition=~Q(parent_user_id=""), name="customer_parent_user_idx"
            ),
            # The inbox's views by thread status (inbox.selectors): the working list without resolved
            # threads, each status by activity, the lost worklist, and "closing soon" by deadline.
            models.Index(
                fields=["-last_activity_at", "-id"],
                condition=~Q(status=ThreadStatus.RESOLVED),
                name="customer_unresolved_idx",
            ),
            models.Index(fields=["status", "-last_activity_at", "-id"], name="customer_status_idx"),
            models.Index(
                fields=["-last_activity_at", "-id"],
                condition=Q(last_turn_direction="inbound") & ~Q(status=ThreadStatus.RESOLVED),
                name="customer_lost_idx",
            ),
            models.Index(
                fields=["last_inbound_at", "id"],
                condition=~Q(status=ThreadStatus.RESOLVED),
                name="customer_deadline_idx",
            ),
            models.Index(fields=["snoozed_until"], condition=Q(status="snoozed"), name="customer_snooze_idx"),
            # Search by name and phone on PostgreSQL: trigram indexes, migration 0011.
        ]
        permissions = [
            ("assign_customer", "Can assign customers to agents"),
            ("change_thread_status", "Can resolve, snooze, mark pending and reopen threads"),
            # Agents take unassigned threads and give back their own; this reassigns anyone's.
            ("reassign_customer", "Can reassign any customer to any agent or team"),
        ]
        # wa_id is digits-only in the database too: see the vendor-specific SQL in migrations 0002, 0009.

    # What save() derives other columns from (phone and country; the search name). A write of other
    # columns alone derives nothing: the hot paths may write them without save() (update_columns).
    DERIVED_FROM = frozenset({"wa_id", "user_id", "name", "username"})

    def __str__(self):
        return f"{self.name or self.handle}"

    def save(self, *args, **kwargs):
        # Derived, never typed: phone and country always match the identifiers (the phone number's
        # country when known, else the BSUID's country prefix), the search name the name and username.
        # A save of other fields alone (a message's activity, a status) derives nothing: parsing the
        # number costs more than the rest of such a save.
        self.wa_id = self.wa_id or None
        self.user_id = self.user_id or None
        update_fields = kwargs.get("update_fields")
        saved = None if update_fields is None else set(update_fields)
        if saved is None or saved & {"wa_id", "user_id"}:
            e164, country = phone_from_wa_id(self.wa_id or "")
            derived = (e164, country or identifiers.country_of_user_id(self.user_id))
            if (self.phone_e164, self.country) != derived:
                self.phone_e164, self.country = derived
                if saved is not None:
                    saved |= {"phone_e164", "country"}
        if saved is None or saved & {"name", "username"}:
            search_name = folded_name(self.name, self.username)
            if self.search_name != search_name:
                self.search_name = search_name
                if saved is not None:
                    saved.add("search_name")
        if saved is not None:
            kwargs["update_fields"] = saved
        super().save(*args, **kwargs)

    @property
    def handle(self) -> str:
        """How to tell this customer apart when the name is not enough: the phone number, else the
        username, else the business-scoped user id."""
        return (
            self.phone_e164 or (f"+{self.wa_id}" if self.wa_id else "") or self.username or self.user_id or ""
        )

    @property
    def has_phone_number(self) -> bool:
        return bool(self.wa_id)

    @property
    def fep_eligible_until(self):
        """The end of the referral's 24 h; whether it is still unused is the policy's question."""
        return self.fep_referral_at and self.fep_referral_at + policy.FEP_ELIGIBILITY


class Conversation(models.Model):
    """A billing bucket of the platform's conversation-based pricing (R3–R9).

    Whether it is open at t is computed from timestamps (R8): opened_at <= t < expires_at and not
    closed at or before t. `status` is kept by the sweep for lists and reports; it is never the
    authority. A voided conversation (R9) has closed_at == opened_at, so it is open at no instant.
    """

    class Category(models.TextChoices):
        MARKETING = policy.Category.MARKETING.value, "Marketing"
        UTILITY = policy.Category.UTILITY.value, "Utility"
        AUTHENTICATION = policy.Category.AUTHENTICATION.value, "Authentication"
        SERVICE = policy.Category.SERVICE.value, "Service"
        FREE_ENTRY_POINT = policy.Category.FREE_ENTRY_POINT.value, "Free-entry point"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        EXPIRED = "expired", "Expired"
        CLOSED = "closed", "Closed by a free-entry point"
        VOIDED = "voided", "Voided (its messages failed)"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="conversations")
    category = models.CharField(max_length=24, choices=Category.choices)
    opened_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="closed_conversations",
        help_text="The free-entry-point conversation whose opening closed this one (R6).",
    )
    opening_message = models.OneToOneField(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="opened_conversation"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    platform_id = models.CharField("platform conversation id", max_length=64, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("opened_at")), name="conversation_expires_after_open"
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True)
                | Q(closed_at__gte=F("opened_at"), closed_at__lte=F("expires_at")),
                name="conversation_closed_within_life",
            ),
            models.CheckConstraint(
                condition=Q(category__in=[c.value for c in policy.Category]),
                name="conversation_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "expired", "closed", "voided"]),
                name="conversation_status_valid",
            ),
            models.CheckConstraint(
                condition=(Q(status="voided") & Q(voided_at__isnull=False) & Q(closed_at=F("opened_at")))
                | (~Q(status="voided") & Q(voided_at__isnull=True)),
                name="conversation_voided_consistent",
            ),
            # "Never two open conversations of one category for one customer" is an exclusion
            # constraint over time ranges on PostgreSQL and a trigger on SQLite: migration 0002.
        ]
        indexes = [
            # R8 reads: a customer's conversations around an instant.
            models.Index(fields=["customer", "expires_at"], name="conversation_customer_exp_idx"),
            models.Index(fields=["customer", "category", "-opened_at"], name="conversation_cust_cat_idx"),
            # The sweep: open rows by expiry.
            models.Index(fields=["expires_at"], condition=Q(status="open"), name="conversation_due_idx"),
            models.Index(fields=["-opened_at", "-id"], name="conversation_opened_idx"),
            # The inbox list: which customers have a free-entry-point conversation open now.
            models.Index(
                fields=["expires_at", "customer"],
                condition=Q(category="free_entry_point"),
                name="conversation_fep_open_idx",
            ),
            # Reports: conversations opened in a period, grouped by day and category.
            models.Index(fields=["opened_at", "category"], name="conversation_opened_cat_idx"),
            models.Index(fields=["status_changed_at"], name="conversation_changed_idx"),
        ]

    def __str__(self):
        return f"{self.get_category_display()} conversation #{self.pk} with {self.customer}"

    @property
    def ends_at(self):
        """When it stopped (or will stop) being open: closed_at if closed early, else expires_at."""
        return self.closed_at or self.expires_at

    def is_open(self, now):
        return self.as_policy().is_open(now)

    def as_policy(self) -> policy.ConversationState:
        return policy.ConversationState(
            key=self.pk,
            category=policy.Category(self.category),
            opened_at=self.opened_at,
            expires_at=self.expires_at,
            closed_at=self.closed_at,
            voided=self.status == self.Status.VOIDED,
        )


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", "From the customer"
        OUTBOUND = "outbound", "From us"

    class Kind(models.TextChoices):
        FREE_FORM = "free_form", "Free-form"
        TEMPLATE = "template", "Template"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    # No index of its own: message_thread_idx and message_latest_dir_idx start with the customer, and
    # every index is one more write for each status a message receives.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="messages", db_index=False)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FREE_FORM)
    # The platform's message type (text, image, location, …, template); free-form is anything but template.
    wa_type = models.CharField("message type", max_length=32, default="text")
    body = models.TextField(blank=True)
    template = models.ForeignKey(
        "templates_app.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    template_params = models.JSONField(null=True, blank=True)
    # What the template took beyond its body: a header's value, URL buttons' (templates_app.sending).
    template_extras = models.JSONField(null=True, blank=True)
    # The template's category when it was sent: a later re-categorisation never rewrites history.
    template_category = models.CharField(max_length=16, blank=True)
    wamid = models.CharField("platform message id", max_length=128, null=True, blank=True, unique=True)
    # The instant on the timeline: the platform timestamp of an inbound message (R1, E11), the moment we
    # accepted an outbound one (conversations open then).
    occurred_at = models.DateTimeField()
    platform_timestamp = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # The platform's own timestamps from status webhooks (a tick each in the thread).
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # Handing the message to the platform (whatsapp.services.deliver_message).
    send_attempts = models.PositiveSmallIntegerField(default=0)
    send_started_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    pricing = models.JSONField(
        null=True, blank=True, help_text="The platform's pricing object for this message."
    )
    error_code = models.IntegerField(null=True, blank=True)
    error_text = models.TextField(blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sent_messages",
        db_index=False,  # message_agent_idx starts with the agent
    )
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="messages",
        help_text="The conversation this outbound message opened or joined.",
    )
    referral = models.JSONField(
        null=True, blank=True, help_text="The click-to-WhatsApp ad or page button the message came from (R6)."
    )
    # The message this one replies or reacts to (the platform's id, ours or the customer's): shown as a
    # quote above a reply, and a reaction beside the message it belongs to.
    context_wamid = models.CharField("replies or reacts to", max_length=128, blank=True)
    # The structured part of what the customer sent beyond text: a form's answers, a call permission,
    # the kind of an unsupported message… (whatsapp.payloads decides what; the thread shows it).
    details = models.JSONField(null=True, blank=True)
    # The platform's pricing of an outbound message, from its status webhooks (R9: the authority on what
    # was charged). `pricing` keeps the object as received; these are its parts, for reports.
    pricing_model = models.CharField(max_length=8, blank=True, help_text="CBP or PMP.")
    pricing_category = models.CharField(max_length=40, blank=True)
    pricing_type = models.CharField(
        max_length=40, blank=True, help_text="regular, free_customer_service or free_entry_point."
    )
    billable = models.BooleanField(null=True, blank=True)
    # When a status last brought or changed the pricing (it may come without moving the status).
    pricing_changed_at = models.DateTimeField(null=True, blank=True)
    # One per compose form: a second post of the same form (a double click, a retried request) returns
    # the message the first one created instead of sending again.
    client_token = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(direction="inbound", status="received", conversation__isnull=True, kind="free_form")
                    | (Q(direction="outbound") & ~Q(status="received"))
                ),
                name="message_direction_consistent",
            ),
            models.CheckConstraint(
                condition=Q(kind="free_form") | Q(template__isnull=False),
                name="message_template_has_template",
            ),
            models.UniqueConstraint(
                fields=["agent", "client_token"],
                condition=Q(client_token__isnull=False),
                name="message_unique_client_token",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["received", "queued", "sending", "sent", "delivered", "read", "failed"]
                ),
                name="message_status_valid",
            ),
        ]
        permissions = [("send_message", "Can send messages to customers")]
        indexes = [
            models.Index(fields=["customer", "occurred_at", "id"], name="message_thread_idx"),
            models.Index(fields=["-occurred_at", "-id"], name="message_recent_idx"),
            models.Index(fields=["customer", "direction", "-occurred_at"], name="message_latest_dir_idx"),
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["queued", "sending"]),
                name="message_outbox_idx",
            ),
            # Reports: customer messages of a period (service windows), templates of a period (cost,
            # templates after the window closed), and what each agent sent.
            models.Index(
                fields=["occurred_at", "customer"],
                condition=Q(direction="inbound"),
                name="message_inbound_idx",
            ),
            models.Index(fields=["occurred_at"], condition=Q(kind="template"), name="message_template_idx"),
            models.Index(fields=["agent", "occurred_at"], name="message_agent_idx"),
            # What changed since the reports' rollup last looked (reports.services.refresh_rollup).
            models.Index(fields=["status_changed_at"], name="message_changed_idx"),
            models.Index(fields=["created_at"], name="message_created_idx"),
            # What changed since the reports' rollup looked: pricing a status brought.
            models.Index(fields=["pricing_changed_at"], name="message_pricing_changed_idx"),
            # The cost report's messages where our estimate and the platform's pricing differ.
            models.Index(
                fields=["pricing_category", "pricing_type", "occurred_at"],
                condition=Q(direction="outbound"),
                name="message_pricing_idx",
            ),
            # The replies and reactions to the messages of a thread page.
            models.Index(
                fields=["context_wamid"], condition=~Q(context_wamid=""), name="message_context_idx"
            ),
        ]

    def __str__(self):
        return f"{self.get_direction_display()} {self.get_kind_display().lower()} #{self.pk}"

    @property
    def is_template(self):
        return self.kind == self.Kind.TEMPLATE


class ConversationDiscrepancy(models.Model):
    """R9: the platform's status webhooks are the authority on a sent message's conversation. When they
    disagree with our estimate we adopt theirs and keep this record, so an admin can see what changed."""

    class Field(models.TextChoices):
        CATEGORY = "category", "Category"
        EXPIRES_AT = "expires_at", "Expiry"
        CONVERSATION = "conversation", "Conversation"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="discrepancies")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    field = models.CharField(max_length=16, choices=Field.choices)
    ours = models.CharField(max_length=200)
    platform = models.CharField(max_length=200)
    adopted = models.BooleanField(
        default=True, help_text="Whether our record now says what the platform says."
    )
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["-recorded_at", "-id"], name="discrepancy_recent_idx")]

    def __str__(self):
        return f"{self.get_field_display()}: ours {self.ours}, platform {self.platform}"


class PreviousIdentifier(models.Model):
    """An identifier a customer had before the platform said it changed (`user_changed_number`,
    `user_changed_user_id`, or a newer message carrying another one). A late delivery that still carries
    it finds the same customer: an old BSUID always (BSUIDs are never given to another user), an old
    phone number only for messages stamped before the change (numbers are recycled to other people)."""

    class Kind(models.TextChoices):
        PHONE = "wa_id", "Phone number"
        USER_ID = "user_id", "Business-scoped user id"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="previous_identifiers")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=identifiers.USER_ID_MAX)
    replaced_at = models.DateTimeField()

    class Meta:
        ordering = ["-replaced_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "value", "customer"], name="previous_identifier_once"),
            models.CheckConstraint(
                condition=Q(kind__in=["wa_id", "user_id"]), name="previous_identifier_kind"
            ),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="previous_identifier_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.value} (until {self.replaced_at:%Y-%m-%d %H:%M})"


def _media_path(media: "MessageMedia", filename: str) -> str:
    # Never the customer's file name in a path: it is shown and offered on download, not trusted.
    return f"media/{media.received_at:%Y/%m}/{uuid.uuid4().hex}"


class MessageMedia(models.Model):
    """The file of an image, video, audio, document or sticker message, kept through Django's storage API.

    A customer's file is fetched from the platform by its id (whatsapp.media fetches it, the services
    record what happened). The platform's facts (`announced_type`, `sha256`, `announced_size`) are what it
    said; `content_type` and `size` are what the bytes turned out to be, and the only ones served.

    A file an agent sends (an outbound message's) is stored when the agent sends it, checked by its bytes;
    the send task uploads it to the platform, which answers the `media_id` it is sent by (`uploaded_at`):
    a retry of the send finds it and never uploads again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being fetched"
        STORED = "stored", "Stored"
        FAILED = "failed", "Refused"
        EXPIRED = "expired", "Could not be fetched in time"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="media")
    kind = models.CharField(max_length=16, help_text="The message type: image, video, audio, document…")
    # A customer's file: the id it arrived with. An agent's: the id the upload got (empty until then).
    media_id = models.CharField("platform media id", max_length=256, blank=True)
    announced_type = models.CharField(max_length=128, blank=True)
    sha256 = models.CharField(max_length=128, blank=True)
    announced_size = models.PositiveBigIntegerField(null=True, blank=True)
    filename = models.CharField(max_length=255, blank=True, help_text="As the customer named it (shown).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    # Plain words for the agent when the file was refused or could not be fetched (or why it is retried).
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A pending file is fetched when this is past (None: at once); a claim moves it on by the fetch's
    # lease, so a worker that died mid-fetch leaves it to the sweep (conversations.services.media).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    # When the platform forgets the media id: after this the file can never be fetched.
    expires_at = models.DateTimeField()
    file = models.FileField(upload_to=_media_path, max_length=255, blank=True)
    content_type = models.CharField(max_length=128, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    # When the platform took an agent's file (the upload answered `media_id`).
    uploaded_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "message media"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "stored", "failed", "expired"]), name="media_status_valid"
            ),
            models.CheckConstraint(condition=Q(expires_at__gt=F("received_at")), name="media_expires_after"),
            models.CheckConstraint(
                condition=~Q(status="stored") | (~Q(file="") & ~Q(content_type="")),
                name="media_stored_has_file",
            ),
        ]
        indexes = [
            # The sweep: pending files whose task was lost or whose retry is due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="media_pending_idx"),
        ]

    def __str__(self):
        return f"{self.kind} of message #{self.message_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def is_stored(self) -> bool:
        return self.status == self.Status.STORED


# --- Contact attributes (issue 15): fields admins define, values agents keep per customer -----------------

attribute_key_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,39}$",
    "A key is lowercase letters, digits and _, starting with a letter, e.g. order_number.",
)


class ContactAttribute(models.Model):
    """A field admins define (Django admin) for every customer, e.g. `order_number` or `plan`. Its key is
    also a canned reply's variable (`{{order_number}}`) and fills a template's named parameter of the
    same name."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"

    key = models.CharField(
        max_length=40,
        unique=True,
        validators=[attribute_key_validator],
        help_text="Lowercase letters, digits and _, e.g. order_number: {{order_number}} in canned replies.",
    )
    label = models.CharField(
        max_length=80, help_text="What agents read on the side panel, e.g. Order number."
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    optional = models.BooleanField(
        default=True,
        help_text="Optional fields may be left empty; a required one, once set, cannot be cleared.",
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order on the side panel (smallest first)."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["text", "number", "date"]), name="attribute_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.label} ({self.key})"


class ContactAttributeValue(models.Model):
    """One customer's value of one attribute, normalised by the attribute's kind (a number as digits, a
    date as YYYY-MM-DD), with who changed it last and when. Written only by
    conversations.services.set_attribute."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="attribute_values")
    attribute = models.ForeignKey(ContactAttribute, on_delete=models.CASCADE, related_name="values")
    value = models.CharField(max_length=500)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "attribute"], name="attribute_value_once"),
        ]
        # The unique constraint's index serves the side panel's lookup (this customer's values).

    def __str__(self):
        return f"{self.attribute.key}={self.value} for customer #{self.customer_id}"


# --- Labels, teams and who held a thread when (issue 15 items 5 and 6) -----------------------------------


colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour is written #rrggbb, e.g. #0b6e4f.")


class Label(models.Model):
    """A word agents put on customer threads ("refund", "VIP"), defined by admins: the list shows it on
    each row and filters by it."""

    name = models.CharField(max_length=40, unique=True)
    colour = models.CharField(max_length=7, default="#475467", validators=[colour_validator])

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class CustomerLabel(models.Model):
    """A label on a customer's thread: who put it there, when."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="label_links")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="customer_links")
    added_at = models.DateTimeField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "label"], name="customer_label_once")]
        indexes = [
            # The list filtered by a label: which customers carry it (an index-only EXISTS per row).
            models.Index(fields=["label", "customer"], name="customer_label_by_label_idx"),
        ]
        permissions = [("label_customer", "Can put labels on customers' threads and take them off")]

    def __str__(self):
        return f"{self.label} on {self.customer}"


class Team(models.Model):
    """Agents who answer together. New threads go to the default team's available agents in turn
    (conversations.services.assignment); a thread can belong to a team with or without an agent."""

    name = models.CharField(max_length=60, unique=True)
    is_default = models.BooleanField(
        "default team",
        default=False,
        help_text="New threads are assigned in turn among this team's available agents (one team only).",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="support_teams", blank=True
    )
    # How many threads the team has given out in turn: each member's `last_turn` is a number of this
    # sequence, so "least recently given" never depends on two clocks agreeing to the microsecond.
    turns_given = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_team"
            )
        ]

    def __str__(self):
        return self.name


class TeamMembership(models.Model):
    """An agent in a team, and when the team last gave them a thread automatically: the round-robin's
    turn (the least recently given available agent is next)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_turn = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "agent"], name="team_member_once")]
        ordering = ["team", "agent"]

    def __str__(self):
        return f"{self.agent} in {self.team}"


class AgentAvailability(models.Model):
    """An agent's available/away switch (the inbox's header). Without a row an agent is available: away
    is what they choose. Away agents get no threads automatically; they keep the ones they hold."""

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="support_availability"
    )
    available = models.BooleanField(default=True)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "agent availability"
        permissions = [("set_availability", "Can switch themselves between available and away")]

    def __str__(self):
        return f"{self.agent}: {'available' if self.available else 'away'}"


class Assignment(models.Model):
    """Who held a customer's thread from when to when (`ended_at` empty: holds it now), who gave it and
    who took it away. Written only by conversations.services.assignment, with Customer.assigned_to, in
    the same transaction: the reports attribute each window to the agent holding the thread then."""

    class How(models.TextChoices):
        MANUAL = "manual", "By hand"
        AUTO = "auto", "Automatically, in turn (round-robin)"
        HISTORY = "history", "Held before history was kept"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="assignments")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    how = models.CharField(max_length=8, choices=How.choices)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(ended_at__isnull=True), name="one_current_assignment"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="assignment_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(how__in=["manual", "auto", "history"]), name="assignment_how_valid"
            ),
        ]
        indexes = [
            # "Who held the thread at t": the latest start at or before t, per customer (the reports).
            models.Index(fields=["customer", "started_at"], name="assignment_customer_idx"),
        ]

    def __str__(self):
        return f"{self.agent} held {self.customer} from {self.started_at:%Y-%m-%d %H:%M}"
