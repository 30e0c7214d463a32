"""What each platform status of a template means for the people who use it, and what a local edit does to
it. Pure Python (no Django). Only APPROVED is ever sendable (R2): the fact is the catalogue's, here;
conversations.policy decides sends with it.

Sources: whatsapp-cloud-api.md ("Templates") and Meta's "Template review" / "Template pacing and pausing"
pages: a template is reviewed (PENDING) before it is APPROVED or REJECTED; low quality pauses it (PAUSED,
for 3 then 6 hours) and, repeated, disables it (DISABLED); a rejection or a disabling can be appealed.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING = "PENDING"
SENDABLE = "APPROVED"  # R2: the one status that can ever be sent

# Fields the platform reviews: changing any of them makes the template a new version to approve.
REVIEWED_FIELDS = ("name", "language", "category", "parameter_format", "components")


@dataclass(frozen=True)
class StatusInfo:
    status: str
    label: str
    tone: str  # the badge's colour: "ok", "waiting", "stopped", "gone"
    meaning: str  # for agents: can it be sent, and what happens next

    @property
    def sendable(self) -> bool:
        return is_sendable(self.status)


_STATUSES = {
    "APPROVED": ("Approved", "ok", "Approved by WhatsApp: agents can send it."),
    "PENDING": (
        "Pending review",
        "waiting",
        "Waiting for WhatsApp's review (or for its approval of a local change): it cannot be sent yet.",
    ),
    "REJECTED": (
        "Rejected",
        "stopped",
        "WhatsApp refused it: it cannot be sent. An admin can fix it and submit it again.",
    ),
    "PAUSED": (
        "Paused",
        "stopped",
        "Paused by WhatsApp after customers reported or blocked it: it cannot be sent until the pause "
        "ends (3 or 6 hours) or an admin edits it.",
    ),
    "DISABLED": (
        "Disabled",
        "stopped",
        "Disabled by WhatsApp after repeated low quality: it can no longer be sent. Use another template.",
    ),
    "IN_APPEAL": (
        "In appeal",
        "waiting",
        "An admin appealed WhatsApp's decision: it cannot be sent until the appeal is decided.",
    ),
    "FLAGGED": (
        "Flagged",
        "stopped",
        "WhatsApp flagged its quality as low; it will be disabled unless quality improves. It cannot be "
        "sent from the inbox until it is approved again.",
    ),
    "REINSTATED": (
        "Reinstated",
        "waiting",
        "WhatsApp reinstated it after a pause or an appeal; it becomes sendable when it shows as approved.",
    ),
    "PENDING_DELETION": (
        "Being deleted",
        "gone",
        "Being deleted at WhatsApp: it can no longer be sent.",
    ),
    "DELETED": ("Deleted", "gone", "Deleted at WhatsApp: it can no longer be sent."),
    "ARCHIVED": ("Archived", "gone", "Archived at WhatsApp: it cannot be sent unless it is restored."),
    "LIMIT_EXCEEDED": (
        "Limit exceeded",
        "stopped",
        "The business account has more templates than WhatsApp allows: this one cannot be sent.",
    ),
}

# The platform's rejection reasons (message_template_status_update `reason`), in plain words.
REJECTION_REASONS = {
    "ABUSIVE_CONTENT": "the content breaks WhatsApp's policies",
    "INCORRECT_CATEGORY": "the category does not match the content",
    "INVALID_FORMAT": "the format is invalid (placeholders, lengths or examples)",
    "PROMOTIONAL": "promotional content in a template that is not MARKETING",
    "TAG_CONTENT_MISMATCH": "the content does not match the category or language",
    "SCAM": "WhatsApp considered it a scam",
}


def is_sendable(status: str) -> bool:
    """R2: only APPROVED templates can ever be sent (pending, rejected, paused, disabled… cannot)."""
    return (status or "").upper() == SENDABLE


def describe(status: str, rejected_reason: str = "") -> StatusInfo:
    """The status in words for agents; a status the platform adds later is shown as not sendable."""
    status = (status or "").upper()
    label, tone, meaning = _STATUSES.get(
        status, (status.title() or "Unknown", "stopped", "Not approved by WhatsApp: it cannot be sent.")
    )
    if status == "REJECTED" and rejected_reason and rejected_reason.upper() != "NONE":
        reason = REJECTION_REASONS.get(rejected_reason.upper(), rejected_reason)
        meaning = (
            f"WhatsApp refused it: {reason}. It cannot be sent; an admin can fix it and submit it again."
        )
    return StatusInfo(status, label, tone, meaning)


def known_statuses() -> list[StatusInfo]:
    return [describe(status) for status in _STATUSES]


def changed_fields(old: dict, new: dict) -> list[str]:
    """The reviewed fields whose value differs, in REVIEWED_FIELDS order."""
    return [name for name in REVIEWED_FIELDS if old.get(name) != new.get(name)]


def status_after_local_edit(status: str, changed: list[str]) -> str | None:
    """A template whose reviewed content changed here is no longer what WhatsApp approved (or refused):
    it is PENDING until the platform reviews the new version. None: the status stays."""
    if changed and (status or "").upper() != PENDING:
        return PENDING
    return None
