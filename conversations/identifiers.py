"""How the platform names a customer, read and checked. Pure Python (no Django).

A customer is one WhatsApp user (rules.md, "Customer"), known by a phone number (`wa_id`: digits
only), by a business-scoped user id (BSUID, `user_id`: an ISO country code, a dot, letters and digits,
e.g. `US.13491208655302741918`), or both; optionally also by a parent BSUID across linked business
portfolios (`US.ENT.…`) and a display-only username (`@sheena`). See whatsapp-cloud-api.md, late 2026.

`Identity` is what one message, status or contact says about its sender; every part is optional, but
one that names nobody (neither phone nor BSUID) is refused by `Identity.require()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WA_ID = re.compile(r"[0-9]{1,20}")
# The documented form is a two-letter country, a dot and up to 128 letters or digits (a parent id is
# `US.ENT.…`): what tells a BSUID apart where a phone number was expected.
BSUID_FORM = re.compile(r"[A-Z]{2}\.[A-Za-z0-9._-]{1,150}")
# What we accept where the platform says "this is a user id" (`from_user_id`, `user_id`): one token of
# letters, digits and . _ : -, looser than the documented form, so that a form the platform changes
# tomorrow never costs a customer's message.
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,159}")
USER_ID_MAX = 160
USERNAME_MAX = 100
_COUNTRY_PREFIX = re.compile(r"([A-Z]{2})\.")


class InvalidIdentifier(ValueError):
    """An identifier is not in the platform's form; the message says which and why."""


def clean_wa_id(value: object) -> str | None:
    """The phone number in digits (a leading + and spaces tolerated), None when absent or empty."""
    if value is None:
        return None
    text = str(value).strip().removeprefix("+").replace(" ", "")
    if not text:
        return None
    if not WA_ID.fullmatch(text):
        raise InvalidIdentifier(f"{value!r} is not a WhatsApp phone number: it must be digits only.")
    return text


def clean_user_id(value: object) -> str | None:
    """A business-scoped user id, None when absent or empty."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) > USER_ID_MAX or not USER_ID.fullmatch(text):
        raise InvalidIdentifier(
            f"{value!r} is not a business-scoped user id (one word of letters and digits, "
            "e.g. US.13491208655302741918)."
        )
    return text


def clean_username(value: object) -> str:
    if not isinstance(value, str):
        return ""
    return value.strip()[:USERNAME_MAX]


def looks_like_user_id(value: object) -> bool:
    """A BSUID in the documented form (where a phone number was expected, say)."""
    return isinstance(value, str) and bool(BSUID_FORM.fullmatch(value.strip()))


def country_of_user_id(user_id: str | None) -> str:
    """The ISO country code a BSUID starts with ("US.1349…" -> "US"), "" when it has none."""
    match = _COUNTRY_PREFIX.match(user_id or "")
    return match.group(1) if match else ""


@dataclass(frozen=True)
class Identity:
    """Who a webhook item is about. Build it with `Identity.of(...)`, which cleans every part."""

    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str = ""
    username: str = ""

    @classmethod
    def of(cls, *, wa_id=None, user_id=None, parent_user_id=None, username=None) -> Identity:
        # A BSUID where a phone number belongs (an empty or odd `from`) is read as what it is.
        if user_id in (None, "") and looks_like_user_id(wa_id):
            wa_id, user_id = None, wa_id
        parent = clean_user_id(parent_user_id) if looks_like_user_id(parent_user_id) else None
        return cls(
            wa_id=clean_wa_id(wa_id),
            user_id=clean_user_id(user_id),
            parent_user_id=parent or "",
            username=clean_username(username),
        )

    @property
    def names_someone(self) -> bool:
        return bool(self.wa_id or self.user_id)

    def require(self) -> Identity:
        if not self.names_someone:
            raise InvalidIdentifier(
                "The customer is named neither by a phone number (wa_id) nor by a business-scoped user id "
                "(user_id): one of them is needed."
            )
        return self

    def describe(self) -> str:
        parts = [f"+{self.wa_id}" if self.wa_id else "", self.user_id or "", self.username]
        return ", ".join(part for part in parts if part) or "nobody"
