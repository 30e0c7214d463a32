"""Contact attributes: an agent sets a customer's value of a field admins defined (ContactAttribute),
checked by the field's kind. Nothing is sent to the platform."""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction

from conversations.exceptions import AttributeInvalid
from conversations.models import ContactAttribute, ContactAttributeValue, Customer

VALUE_MAX_CHARS = 500


def normalise(attribute: ContactAttribute, raw: str) -> str:
    """The value as kept: text stripped; a number in plain digits (1,234.50 is refused: one way to write
    it); a date as YYYY-MM-DD. Raises AttributeInvalid, in plain words, for what the kind cannot hold."""
    text = (raw or "").strip()
    if len(text) > VALUE_MAX_CHARS:
        raise AttributeInvalid(f"{attribute.label} is too long: at most {VALUE_MAX_CHARS} characters.")
    if text == "" or attribute.kind == ContactAttribute.Kind.TEXT:
        return text
    if attribute.kind == ContactAttribute.Kind.NUMBER:
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise AttributeInvalid(f"{attribute.label} is a number: “{text}” is not one (e.g. 42 or 19.90).")
        return format(number, "f")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise AttributeInvalid(
            f"{attribute.label} is a date: “{text}” is not one (write it as YYYY-MM-DD, e.g. 2026-03-14)."
        ) from None


def set_attribute(
    *, customer: Customer, key: str, value: str, by, now: datetime
) -> ContactAttributeValue | None:
    """Set (or, when empty and the field is optional, clear) `customer`'s value of the attribute `key`,
    as `by` at `now`. Returns the kept value, or None once cleared. Bad input raises AttributeInvalid and
    changes nothing."""
    attribute = ContactAttribute.objects.filter(key=key).first()
    if attribute is None:
        raise AttributeInvalid(f"There is no contact field “{key}”: an admin may have removed it.")
    normalised = normalise(attribute, value)
    with transaction.atomic():
        current = (
            ContactAttributeValue.objects.select_for_update()
            .filter(customer=customer, attribute=attribute)
            .first()
        )
        if normalised == "":
            if current is not None and not attribute.optional:
                raise AttributeInvalid(f"{attribute.label} is required: it cannot be left empty.")
            if current is not None:
                current.delete()
            return None
        if current is None:
            current = ContactAttributeValue(customer=customer, attribute=attribute)
        elif current.value == normalised:
            return current  # nothing changed: who changed it last stays who really did
        current.value = normalised
        current.changed_by = by
        current.changed_at = now
        current.save()
        return current
