"""What a search for a customer compares: names folded (accents and case aside) and phone numbers however
they are typed. Pure Python (no Django): the inbox's search and the customer's stored search name agree
because both fold with `fold`."""

from __future__ import annotations

import unicodedata

import phonenumbers


def fold(text: str) -> str:
    """Lower case without accents: "Sofía" and "SOFIA" both fold to "sofia" (NFKD, combining marks
    dropped, casefold), "ß" to "ss"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped.casefold())


def folded_name(name: str, username: str) -> str:
    """What a customer's name search compares with: the profile name and the username, folded."""
    return " ".join(part for part in (fold(name), fold(username)) if part)


MIN_PHONE_DIGITS = 3


def phone_digits(typed: str, *, country: str) -> list[str]:
    """The digits a phone number typed as `typed` may have in a WhatsApp id (E.164 without the +): the
    digits as typed ("+1 (555) 010-2030", "44 20 7946 0958", a part of a number), and, when it reads as a
    number of the business's `country` in national format ("020 7946 0958" in GB), its E.164 digits.
    Empty when it holds fewer than MIN_PHONE_DIGITS digits or other words."""
    text = typed.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < MIN_PHONE_DIGITS or any(ch.isalpha() for ch in text):
        return []
    found = [digits]
    if not text.startswith("+") and country:
        try:
            number = phonenumbers.parse(text, country.upper())
        except phonenumbers.NumberParseException:
            number = None
        possible = phonenumbers.ValidationResult.IS_POSSIBLE
        if number is not None and phonenumbers.is_possible_number_with_reason(number) == possible:
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
            if national not in found:
                found.append(national)
    return found
