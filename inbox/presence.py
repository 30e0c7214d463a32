"""Who else is on a customer's thread right now (issue 15, collision): each open thread page reports
itself every few seconds (the presence poll), saying whether its agent is typing a reply; the answer is
the colleagues seen on the same thread, viewing or typing.

Kept in the default cache (Redis in production, so every web process sees every agent; the process's
memory in the demo, which runs one), one small roster per customer: {user id: (name, seen, typing)}.
Whether an entry is current is decided by comparing its instants with `now`, never by the cache's
expiry, so the rule is testable with a controlled clock. Two agents reporting at the same instant may
overwrite each other's entry; each reappears at its next report (every POLL_SECONDS), which is all a
"who is here" line needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache

POLL_SECONDS = 5
VIEWING_FOR = timedelta(seconds=3 * POLL_SECONDS)  # missed two polls: gone
TYPING_FOR = timedelta(seconds=6)  # a key pressed in the reply box this recently: typing
_KEPT_FOR = 60  # seconds the roster outlives its last report in the cache


@dataclass(frozen=True)
class Colleague:
    user_id: int
    name: str
    typing: bool


def _key(customer_id: int) -> str:
    return f"inbox:presence:{customer_id}"


def report(customer_id: int, user, *, typing: bool, now: datetime) -> list[Colleague]:
    """`user` has the thread open at `now` (typing a reply or not); returns the colleagues on it."""
    roster = {
        user_id: entry
        for user_id, entry in (cache.get(_key(customer_id)) or {}).items()
        if now - datetime.fromisoformat(entry[1]) < VIEWING_FOR
    }
    previous = roster.get(user.pk)
    typed_at = now.isoformat() if typing else (previous[2] if previous else "")
    roster[user.pk] = (user.get_short_name() or user.get_username(), now.isoformat(), typed_at)
    cache.set(_key(customer_id), roster, _KEPT_FOR)
    return [
        Colleague(
            user_id=user_id,
            name=name,
            typing=bool(typed) and now - datetime.fromisoformat(typed) < TYPING_FOR,
        )
        for user_id, (name, _seen, typed) in sorted(roster.items(), key=lambda item: item[1][0])
        if user_id != user.pk
    ]
