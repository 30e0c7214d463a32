"""Template placeholders: find, validate and fill them. Pure Python (no Django). `fill` is the one place a
text's placeholders are replaced; templates_app.rendering draws a whole template with it.

The platform's formats: POSITIONAL `{{1}}`, `{{2}}`… numbered from 1 with no gaps, and NAMED
`{{first_name}}` (lowercase letters, digits and `_`, starting with a letter or `_`), each name once.
A template never mixes the two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from templates_app.exceptions import TemplateParamsInvalid

POSITIONAL = "POSITIONAL"
NAMED = "NAMED"

TOKEN = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
POSITIONAL_TOKEN = re.compile(r"[1-9][0-9]*")
NAMED_TOKEN = re.compile(r"[a-z_][a-z0-9_]*")
# The platform refuses parameter values with new lines, tabs or more than four consecutive spaces.
BAD_VALUE = re.compile(r"[\n\t]| {5,}")


def tokens(text: str) -> list[str]:
    """Every `{{…}}` in `text`, in order, as written between the braces."""
    return TOKEN.findall(text or "")


def placeholder_errors(text: str, parameter_format: str) -> list[str]:
    """What is wrong with the placeholders of one text component, in plain words ([] when valid)."""
    errors = []
    leftover = TOKEN.sub("", text or "")
    if "{{" in leftover or "}}" in leftover:
        errors.append("unbalanced braces: every placeholder is written {{…}} with two braces on each side")
    found = tokens(text)
    if not found:
        return errors
    positional = [t for t in found if POSITIONAL_TOKEN.fullmatch(t)]
    named = [t for t in found if NAMED_TOKEN.fullmatch(t)]
    malformed = [t for t in found if t not in positional and t not in named]
    for token in malformed:
        errors.append(
            f"{{{{{token}}}}} is not a placeholder: "
            "use {{1}}, {{2}}… or lowercase names like {{first_name}}"
        )
    if positional and named:
        errors.append("placeholders mix numbers and names: use one format in a template")
    elif parameter_format == POSITIONAL and named:
        errors.append(f"the template is POSITIONAL but uses named placeholders ({_braced(_unique(named))})")
    elif parameter_format == NAMED and positional:
        errors.append(
            f"the template is NAMED but uses numbered placeholders ({_braced(_unique(positional))})"
        )
    elif positional:
        numbers = sorted({int(t) for t in positional})
        if numbers != list(range(1, len(numbers) + 1)):
            errors.append(
                f"numbered placeholders must run 1, 2, 3… without gaps; found {_braced(map(str, numbers))}"
            )
    elif named:
        duplicates = sorted({t for t in named if named.count(t) > 1})
        if duplicates:
            errors.append(f"each named placeholder may appear once; repeated: {_braced(duplicates)}")
    return errors


def edge_placeholder_error(text: str) -> str | None:
    """The platform refuses a new body that starts or ends with a placeholder (code 100, subcode 2388299,
    "Leading or trailing params not allowed — Variables can't be at the start or end of the template").

    "The end" is the very end of the text, white space aside: anything written after the last placeholder,
    punctuation included, means it is not at the end. `Your code is {{1}}.` passes; `Hello {{1}}` does not.
    Checked against Meta's own documentation: the body of its creation example, in "Template components"
    (developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components, section
    Body, as creation parameter and as creation example), is
    `Thank you, {{first_name}}! Your order number is {{order_number}}.` and WhatsApp's sample templates
    end the same way (`This is your flight confirmation for {{1}}-{{2}} on {{3}}.`). One provider's help
    page (Maqsam, "Creating WhatsApp Templates with Variables") claims a variable followed only by
    punctuation counts as the end; Meta's example says otherwise, and Meta's word is the one kept here.
    Templates the platform already holds are never judged by this (see validation.listing_errors): many
    approved before the rule existed, e.g. WhatsApp's own `sample_movie_ticket_confirmation`, which ends
    with `*Seats* - {{4}}`."""
    stripped = (text or "").strip()
    if TOKEN.match(stripped) or re.search(r"\{\{[^{}]*\}\}$", stripped):
        return "the body may not start or end with a placeholder"
    return None


def parameter_names(text: str, parameter_format: str) -> list[str]:
    """The parameters a send must supply for `text`, in order of first appearance ("1", "2"… or names)."""
    pattern = POSITIONAL_TOKEN if parameter_format == POSITIONAL else NAMED_TOKEN
    names = []
    for token in tokens(text):
        if pattern.fullmatch(token) and token not in names:
            names.append(token)
    if parameter_format == POSITIONAL:
        names.sort(key=int)
    return names


def normalise_params(text: str, parameter_format: str, params: Sequence | Mapping | None) -> dict[str, str]:
    """Check `params` against the placeholders of `text`; return {placeholder: value}.

    POSITIONAL takes a list in order; NAMED a dict by name. Every error is reported at once.
    """
    names = parameter_names(text, parameter_format)
    if params is None:
        params = {} if parameter_format == NAMED else []
    errors = []
    values: dict[str, object] = {}
    if parameter_format == POSITIONAL:
        if isinstance(params, Mapping | str | bytes):
            raise TemplateParamsInvalid(
                f"this template takes a list of {_count(len(names), 'positional parameter')}, "
                f"not a {type(params).__name__}"
            )
        params = list(params)
        if len(params) != len(names):
            raise TemplateParamsInvalid(
                f"this template takes {_count(len(names), 'parameter')}, got {len(params)}"
            )
        values = dict(zip(names, params, strict=True))
    else:
        if not isinstance(params, Mapping):
            raise TemplateParamsInvalid(
                f"this template takes named parameters ({', '.join(names) or 'none'}), "
                f"not a {type(params).__name__}"
            )
        missing = [n for n in names if n not in params]
        unknown = sorted(str(k) for k in params if k not in names)
        if missing:
            errors.append(f"missing parameter{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
        if unknown:
            errors.append(f"unknown parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        values = {n: params[n] for n in names if n in params}
    cleaned = {}
    for name, value in values.items():
        label = f"parameter {{{{{name}}}}}"
        if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
            errors.append(f"{label} must be text")
            continue
        value = str(value)
        if not value.strip():
            errors.append(f"{label} is empty")
        elif BAD_VALUE.search(value):
            errors.append(f"{label} may not contain new lines, tabs or more than four spaces in a row")
        cleaned[name] = value
    if errors:
        raise TemplateParamsInvalid(errors)
    return cleaned


@dataclass(frozen=True)
class Part:
    """A piece of text: written text, a value given for a placeholder, an example value standing in for
    one, or a placeholder with neither (shown as written)."""

    text: str
    kind: str  # "text" | "value" | "example" | "placeholder"


def fill(
    text: str, values: Mapping[str, str] | None = None, examples: Mapping[str, str] | None = None
) -> tuple[Part, ...]:
    """`text` cut into parts, in one pass: each placeholder replaced by its given value, else by its
    example, else kept as written. A value is never read again for placeholders: "{{2}}" given for
    {{1}} shows as "{{2}}", as the platform sends it."""
    values, examples = values or {}, examples or {}
    parts: list[Part] = []
    position = 0
    for match in TOKEN.finditer(text or ""):
        if match.start() > position:
            parts.append(Part(text[position : match.start()], "text"))
        token = match.group(1)
        if token in values:
            parts.append(Part(values[token], "value"))
        elif token in examples:
            parts.append(Part(examples[token], "example"))
        else:
            parts.append(Part(match.group(0), "placeholder"))
        position = match.end()
    if position < len(text or ""):
        parts.append(Part(text[position:], "text"))
    return tuple(parts)


def joined(parts: Sequence[Part]) -> str:
    return "".join(part.text for part in parts)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _braced(names) -> str:
    return ", ".join(f"{{{{{n}}}}}" for n in names)
