"""Canned replies (issue 15): an agent's own and the team's, and their variables filled for one customer.

Variables are `{{name}}`, `{{first_name}}`, `{{agent}}` and any contact attribute's key
(`{{order_number}}`). One with no value is left in the text as it is, visible, and listed as missing:
the reply box flags it, and the server refuses to send a text that still holds one (never sent silently
empty)."""

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q

from conversations.models import Customer
from conversations.selectors import attribute_values
from inbox.models import CannedReply

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
BUILT_IN = ("name", "first_name", "agent")
TITLE_MAX = 80
BODY_MAX = 4096
TEAM_FIRST = (F("owner_id").asc(nulls_first=True), "title", "pk")


class CannedReplyInvalid(ValueError):
    code = "canned_reply_invalid"


class NotYours(PermissionError):
    """Somebody else's canned reply (or the team's, for an agent)."""


@dataclass(frozen=True)
class Filled:
    text: str
    missing: list[str]  # variables left as {{…}}: no value for this customer


def values_for(customer: Customer, agent) -> dict[str, str]:
    """What the variables stand for with this customer and agent: one query (the attributes)."""
    name = (customer.name or "").strip()
    values = {
        "name": name,
        "first_name": name.split(" ")[0] if name else "",
        "agent": (agent.first_name or agent.get_username()) if agent is not None else "",
    }
    for key, value in attribute_values(customer).items():
        values.setdefault(key, value)  # a built-in keeps its meaning even if an attribute shares its key
    return values


def fill(text: str, values: dict[str, str]) -> Filled:
    """`text` with every variable that has a value replaced, in one pass (a value that looks like a
    variable stays as it is); the others left visible and listed."""
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        value = values.get(match.group(1), "")
        if value.strip():
            return value
        if match.group(1) not in missing:
            missing.append(match.group(1))
        return match.group(0)

    return Filled(VARIABLE.sub(replace, text), missing)


def unfilled(text: str) -> list[str]:
    """The variables still in `text` (a send is refused while there are any)."""
    return list(dict.fromkeys(match.group(0) for match in VARIABLE.finditer(text or "")))


def offered_to(user):
    """What the `/` list offers `user`: their own replies and the team's, team first, by title."""
    return CannedReply.objects.filter(Q(owner=user) | Q(owner__isnull=True)).order_by(*TEAM_FIRST)


def listed_for(user, *, sees_all: bool):
    """The replies page: the user's own and the team's; a supervisor or an admin (sees_all) sees every
    agent's too, read-only."""
    replies = CannedReply.objects.select_related("owner")
    if not sees_all:
        replies = replies.filter(Q(owner=user) | Q(owner__isnull=True))
    return replies.order_by(*TEAM_FIRST)


def may_change(user, reply: CannedReply, *, manages_team: bool) -> bool:
    """An agent changes only their own (while they may keep replies); the team's are changed by who
    manages them (admins)."""
    if reply.is_team:
        return manages_team
    return reply.owner_id == user.pk and user.has_perm("inbox.add_cannedreply")


def _clean(title: str, body: str) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").strip()
    problems = []
    if not title:
        problems.append("Give the reply a title: it is what the / list shows and searches.")
    elif len(title) > TITLE_MAX:
        problems.append(f"The title is too long: at most {TITLE_MAX} characters.")
    if not body:
        problems.append("The reply is empty: write its text.")
    elif len(body) > BODY_MAX:
        problems.append(f"The text is too long: at most {BODY_MAX} characters.")
    if problems:
        raise CannedReplyInvalid(" ".join(problems))
    return title, body


def save(
    *, user, title: str, body: str, team: bool, manages_team: bool, now: datetime, reply=None
) -> CannedReply:
    """Add (reply=None) or change a canned reply as `user`. Raises CannedReplyInvalid (in words) for an
    empty title or text, NotYours for a reply the user may not change."""
    title, body = _clean(title, body)
    if reply is None:
        if team and not manages_team:
            raise NotYours("Only admins add team replies.")
        reply = CannedReply(owner=None if team else user, created_at=now)
    elif not may_change(user, reply, manages_team=manages_team):
        raise NotYours("This canned reply is not yours to change.")
    reply.title, reply.body, reply.updated_at = title, body, now
    reply.save()
    return reply


def delete(*, user, reply: CannedReply, manages_team: bool) -> None:
    if not may_change(user, reply, manages_team=manages_team):
        raise NotYours("This canned reply is not yours to delete.")
    reply.delete()
