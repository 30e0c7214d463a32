"""Domain errors: each has a stable `code` (for logs, APIs and the UI) and a message in plain words.

The base class and the template parameters' error are the template catalogue's (templates_app.exceptions,
the bottom layer, which raises it); they are re-exported here with the domain's own.
"""

from templates_app.exceptions import DomainError, TemplateParamsInvalid

__all__ = [
    "AssignmentRefused",
    "AttributeInvalid",
    "DomainError",
    "InvalidMessage",
    "InvalidStatusChange",
    "NotAnAgent",
    "ReactionTargetInvalid",
    "ReplyTargetInvalid",
    "ResolveNeedsConfirmation",
    "TargetMessageInvalid",
    "TemplateNotSendable",
    "TemplateNotSendableFromInbox",
    "TemplateParamsInvalid",
    "WindowClosed",
]


class WindowClosed(DomainError):
    """R2: free-form messages need an open customer service window."""

    code = "window_closed"
    default_message = (
        "The customer service window is closed: the customer has not written in the last 24 hours, "
        "so only approved templates can be sent until they reply."
    )


class TemplateNotSendable(DomainError):
    """R2: only APPROVED templates can be sent."""

    code = "template_not_sendable"
    default_message = "This template is not approved, so it cannot be sent. Choose an approved template."


class TemplateNotSendableFromInbox(TemplateNotSendable):
    """The template is approved, but of a kind the compose view cannot fill (a carousel, a limited-time
    offer, a product header, catalogue or Flow buttons…): refused here rather than at the platform."""

    code = "template_not_sendable_from_inbox"
    default_message = (
        "This template is of a kind the inbox cannot fill, so it cannot be sent from here. Choose another."
    )


class InvalidMessage(DomainError, ValueError):
    """The message itself cannot be sent (empty, too long)."""

    code = "invalid_message"
    default_message = "This message cannot be sent."


class TargetMessageInvalid(InvalidMessage):
    """A reply or a reaction names a message it cannot be about (another customer's, one WhatsApp has no
    id for, a reaction…): bad input, refused before anything is recorded."""

    code = "target_message_invalid"
    default_message = "That message cannot be replied or reacted to."


class ReplyTargetInvalid(TargetMessageInvalid):
    code = "reply_target_invalid"
    default_message = "That message cannot be quoted in a reply."


class ReactionTargetInvalid(TargetMessageInvalid):
    code = "reaction_target_invalid"
    default_message = "That message cannot be reacted to."


class ResolveNeedsConfirmation(DomainError):
    """Resolving would leave the customer's last message unanswered while a reply is still possible."""

    code = "resolve_needs_confirmation"

    def __init__(self, window_closes_at=None):
        self.window_closes_at = window_closes_at
        super().__init__(
            "The customer's last message has no reply yet and the window is still open: once resolved, "
            "nobody is reminded to answer. Reply first, or resolve anyway."
        )


class InvalidStatusChange(DomainError, ValueError):
    """A status change that cannot be (a snooze without an end, or ending in the past)."""

    code = "invalid_status_change"
    default_message = "That change of the thread's status cannot be made."


class AttributeInvalid(DomainError):
    """A contact attribute's value its field's kind cannot hold (a word in a number field…)."""

    code = "attribute_invalid"
    default_message = "That value does not fit the field."


class AssignmentRefused(DomainError):
    """An agent may take an unassigned thread and give back their own; reassigning anyone else's thread,
    or giving a thread to a colleague, is a supervisor's (reassign_customer)."""

    code = "assignment_refused"
    default_message = (
        "You can take a thread nobody holds and give back your own; only a supervisor can reassign a "
        "colleague's thread or give a thread to someone else."
    )


class NotAnAgent(DomainError, ValueError):
    code = "not_an_agent"
    default_message = "Only an active agent can be given customers."
