"""Small builders for test data. Rules are never bypassed: messages and conversations come from the
services, so tests see what production would write."""

from datetime import UTC, datetime, timedelta
from itertools import count

from django.contrib.auth.models import Group, User

from conversations.models import Customer
from templates_app.models import MessageTemplate

_numbers = count(1)

# A fixed Monday (2026-01-05) so that the worked examples of rules.md read naturally: MON + h(9) = Mon 09:00.
MON = datetime(2026, 1, 5, tzinfo=UTC)


def h(hours: float = 0, minutes: float = 0, seconds: float = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def at(day: int, hhmm: str) -> datetime:
    """at(0, "09:00") = Mon 09:00; at(1, "07:59:59") = Tue 07:59:59 (UTC)."""
    parts = [int(p) for p in hhmm.split(":")] + [0]
    return MON + timedelta(days=day, hours=parts[0], minutes=parts[1], seconds=parts[2])


def new_wa_id() -> str:
    return f"1555{next(_numbers):07d}"


def customer(**fields) -> Customer:
    fields.setdefault("wa_id", new_wa_id())
    fields.setdefault("name", "Test Customer")
    return Customer.objects.create(**fields)


def template(category="MARKETING", status="APPROVED", body="Hi {{1}}, we have news for you.", **fields):
    fields.setdefault("name", f"{category.lower()}_{next(_numbers)}")
    fields.setdefault("language", "en_US")
    fields.setdefault("parameter_format", "POSITIONAL")
    return MessageTemplate.objects.create(
        category=category, status=status, components=[{"type": "BODY", "text": body}], **fields
    )


def user(username: str, role: str | None = None, **fields) -> User:
    """A person who signs in with password "pw": first name from the username unless given, in the
    `role` group (agents, supervisors, admins) when one is named."""
    fields.setdefault("first_name", username.title())
    account = User.objects.create_user(username, password="pw", **fields)
    if role:
        account.groups.set([Group.objects.get(name=role)])
    return account
