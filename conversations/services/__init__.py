"""Writes: the domain's actions. This is the public contract the webhook, the inbox and the tests use;
import it as `from conversations import services` and call `services.send_text(...)`.

Each action runs in one transaction, locks the customer row it decides on, reads the clock once *after*
the lock is held (a time read before waiting for a lock is stale), asks policy.py what to do, and
writes the answer. The database refuses two overlapping conversations of one category even if this
code were wrong (migration conversations 0002).

- inbound: the customer's messages, identity changes, marketing preference
- outbound: texts (replies quoting a message too) and templates we send (one send path), and history
  sent elsewhere; reactions: an agent's emoji on a customer's message (the same path)
- attachments: files agents send (a free-form message on the same send path)
- platform (with reconciliation): the platform's reports on our messages (R9)
- sweep: marking ended conversations expired (R8)
- status: the thread's place in the team's work (resolve, snooze, pending, reopen; snoozes that ended)
- attributes: a customer's values of the contact fields admins define (no platform call)
- assignment: who holds a thread (by hand, in turn), its history, teams, availability, labels
"""

from conversations.services.assignment import (
    add_label,
    assign,
    assign_in_turn,
    remove_label,
    set_availability,
)
from conversations.services.attachments import send_attachment
from conversations.services.attributes import set_attribute
from conversations.services.inbound import (
    receive_message,
    record_identity_change,
    record_marketing_preference,
)
from conversations.services.outbound import SEND_TASK, record_sent_elsewhere, send_template, send_text
from conversations.services.platform import (
    CALLBACK_PREFIX,
    StatusWrite,
    callback_data,
    mark_message_failed,
    record_accepted,
    record_status,
    usual_status_write,
)
from conversations.services.reactions import send_reaction
from conversations.services.status import end_due_snoozes, mark_pending, reopen, resolve, snooze
from conversations.services.sweep import SWEEP_BATCH_SIZE, expire_due_conversations

__all__ = [
    "CALLBACK_PREFIX",
    "SEND_TASK",
    "SWEEP_BATCH_SIZE",
    "StatusWrite",
    "add_label",
    "assign",
    "assign_in_turn",
    "callback_data",
    "end_due_snoozes",
    "expire_due_conversations",
    "mark_message_failed",
    "mark_pending",
    "receive_message",
    "record_accepted",
    "record_identity_change",
    "record_marketing_preference",
    "record_sent_elsewhere",
    "record_status",
    "remove_label",
    "reopen",
    "resolve",
    "send_attachment",
    "send_reaction",
    "send_template",
    "send_text",
    "set_attribute",
    "set_availability",
    "snooze",
    "usual_status_write",
]
