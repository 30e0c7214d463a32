"""Phone facts derived from a WhatsApp id (the customer's number in digits) with `phonenumbers`."""

from typing import NamedTuple

import phonenumbers


class Phone(NamedTuple):
    e164: str
    country: str  # ISO 3166-1 alpha-2 region, "" when the number belongs to none


def phone_from_wa_id(wa_id: str) -> Phone:
    if not wa_id:
        return Phone("", "")
    try:
        number = phonenumbers.parse(f"+{wa_id}")
    except phonenumbers.NumberParseException:
        return Phone(f"+{wa_id}", "")
    region = phonenumbers.region_code_for_number(number)
    if not region:
        # Unassigned or test ranges (e.g. +1 555…) still belong to a country calling code's main region.
        region = phonenumbers.region_code_for_country_code(number.country_code)
    if region in ("ZZ", "001"):
        region = ""
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), region or "")
