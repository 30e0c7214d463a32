"""Table-driven tests of `templates_app/placeholders.py` (pure: no database, no Django).

Formats: POSITIONAL `{{1}}`, `{{2}}`… from 1 without gaps; NAMED `{{first_name}}` (lowercase), each name
once; never both in one template. Every error is a sentence a template author can act on.
"""

from __future__ import annotations

import pytest

from conversations.exceptions import DomainError, TemplateParamsInvalid
from templates_app.placeholders import (
    NAMED,
    POSITIONAL,
    edge_placeholder_error,
    normalise_params,
    parameter_names,
    placeholder_errors,
    tokens,
)
from templates_app.rendering import render_send


def render(text: str, fmt: str, params) -> str:
    """The body a send of a template with this text stores: the one renderer's (templates_app.rendering),
    which checks the parameters and fills the placeholders in one pass."""
    return render_send([{"type": "BODY", "text": text}], fmt, "UTILITY", params).body


def not_a_placeholder(token: str) -> str:
    return (
        f"{token} is not a placeholder: use {{{{1}}}}, {{{{2}}}}… or lowercase names like {{{{first_name}}}}"
    )


def test_the_malformed_message_reads_plainly():
    assert not_a_placeholder("{{First}}") == (
        "{{First}} is not a placeholder: use {{1}}, {{2}}… or lowercase names like {{first_name}}"
    )


# --- placeholder_errors ----------------------------------------------------------------------------

VALID_ROWS = [
    ("positional-sequential", "Hi {{1}}, your order {{2}} is ready.", POSITIONAL),
    ("positional-single", "Your code is {{1}}.", POSITIONAL),
    ("positional-repeated-use", "Hi {{1}}, order {{2}} — thanks, {{1}}!", POSITIONAL),
    ("positional-any-order", "Order {{2}} for {{1}} is ready.", POSITIONAL),
    ("positional-ten-and-more", " ".join(f"{{{{{n}}}}}" for n in range(1, 12)), POSITIONAL),
    ("named-lowercase", "Hi {{first_name}}, order {{order_id}} is ready.", NAMED),
    ("named-digits-and-underscores", "Hi {{_name}}, your {{item_2}} shipped.", NAMED),
    ("no-placeholders-positional", "Thanks for writing to us.", POSITIONAL),
    ("no-placeholders-named", "Thanks for writing to us.", NAMED),
    ("empty-text", "", POSITIONAL),
    ("single-braces-are-text", "Use {this} and {1} freely.", POSITIONAL),
]


@pytest.mark.parametrize(
    ("text", "fmt"), [r[1:] for r in VALID_ROWS], ids=[f"valid-{r[0]}" for r in VALID_ROWS]
)
def test_valid_placeholders_have_no_errors(text, fmt):
    assert placeholder_errors(text, fmt) == []


UNBALANCED = "unbalanced braces: every placeholder is written {{…}} with two braces on each side"

INVALID_ROWS = [
    ("unclosed-placeholder", "Hi {{1}, welcome.", POSITIONAL, [UNBALANCED]),
    ("unopened-placeholder", "Hi 1}}, welcome.", POSITIONAL, [UNBALANCED]),
    (
        "format-mismatch-lists-each-name-once",
        "Hi {{a}} and {{a}} again.",
        POSITIONAL,
        ["the template is POSITIONAL but uses named placeholders ({{a}})"],
    ),
    (
        "positional-gap",
        "Hi {{1}}, your order {{3}} is ready.",
        POSITIONAL,
        ["numbered placeholders must run 1, 2, 3… without gaps; found {{1}}, {{3}}"],
    ),
    (
        "positional-not-from-1",
        "Order {{2}} ships {{3}}.",
        POSITIONAL,
        ["numbered placeholders must run 1, 2, 3… without gaps; found {{2}}, {{3}}"],
    ),
    (
        "positional-gap-reported-once-per-number",
        "{{1}} {{3}} {{3}} {{1}}",
        POSITIONAL,
        ["numbered placeholders must run 1, 2, 3… without gaps; found {{1}}, {{3}}"],
    ),
    (
        "named-repeated",
        "Hi {{name}}, bye {{name}}.",
        NAMED,
        ["each named placeholder may appear once; repeated: {{name}}"],
    ),
    (
        "named-two-repeated-sorted",
        "{{b}} {{a}} {{b}} {{a}} {{c}}",
        NAMED,
        ["each named placeholder may appear once; repeated: {{a}}, {{b}}"],
    ),
    (
        "mixing-in-positional",
        "Hi {{1}}, order {{order_id}}.",
        POSITIONAL,
        ["placeholders mix numbers and names: use one format in a template"],
    ),
    (
        "mixing-in-named",
        "Hi {{first_name}}, order {{1}}.",
        NAMED,
        ["placeholders mix numbers and names: use one format in a template"],
    ),
    (
        "format-mismatch-named-in-positional",
        "Hi {{first_name}}, welcome.",
        POSITIONAL,
        ["the template is POSITIONAL but uses named placeholders ({{first_name}})"],
    ),
    (
        "format-mismatch-numbered-in-named",
        "Hi {{1}}, order {{2}}.",
        NAMED,
        ["the template is NAMED but uses numbered placeholders ({{1}}, {{2}})"],
    ),
    ("malformed-capitalised-name", "Hi {{First}}, welcome.", NAMED, [not_a_placeholder("{{First}}")]),
    ("malformed-spaces-around-number", "Hi {{ 1 }}, welcome.", POSITIONAL, [not_a_placeholder("{{ 1 }}")]),
    ("malformed-spaces-around-name", "Hi {{ name }}, welcome.", NAMED, [not_a_placeholder("{{ name }}")]),
    ("malformed-empty", "Hi {{}}, welcome.", POSITIONAL, [not_a_placeholder("{{}}")]),
    ("malformed-number-then-letter", "Hi {{1a}}, welcome.", POSITIONAL, [not_a_placeholder("{{1a}}")]),
    ("malformed-zero", "Hi {{0}}, welcome.", POSITIONAL, [not_a_placeholder("{{0}}")]),
    ("malformed-leading-zero", "Hi {{01}}, welcome.", POSITIONAL, [not_a_placeholder("{{01}}")]),
    ("malformed-hyphen", "Hi {{first-name}}, welcome.", NAMED, [not_a_placeholder("{{first-name}}")]),
    (
        "malformed-each-reported-beside-valid-ones",
        "Hi {{1}}, {{Name}} and {{ 2 }}.",
        POSITIONAL,
        [not_a_placeholder("{{Name}}"), not_a_placeholder("{{ 2 }}")],
    ),
    (
        "malformed-and-mixing-both-reported",
        "{{1}} {{name}} {{X}}",
        POSITIONAL,
        [not_a_placeholder("{{X}}"), "placeholders mix numbers and names: use one format in a template"],
    ),
]


@pytest.mark.parametrize(
    ("text", "fmt", "errors"), [r[1:] for r in INVALID_ROWS], ids=[f"invalid-{r[0]}" for r in INVALID_ROWS]
)
def test_invalid_placeholders_are_refused_with_readable_messages(text, fmt, errors):
    assert placeholder_errors(text, fmt) == errors


EDGE_ROWS = [
    ("edge-starts-with-placeholder", "{{1}} is your code.", True),
    ("edge-ends-with-placeholder", "Your code is {{1}}", True),
    ("edge-only-a-placeholder", "{{first_name}}", True),
    ("edge-leading-whitespace-still-starts", "  \n{{1}} is your code.", True),
    ("edge-trailing-whitespace-still-ends", "Your code is {{1}}  \n", True),
    ("edge-malformed-token-at-the-start-counts", "{{First}} hello", True),
    ("edge-inside-is-fine", "Hi {{1}}, welcome.", False),
    ("edge-punctuation-after-the-last-is-fine", "Your code is {{1}}.", False),
    ("edge-hello-placeholder-ends", "Hello {{1}}", True),
    ("edge-exclamation-after-the-last-is-fine", "Hello {{1}}!", False),
    ("edge-closing-bracket-after-the-last-is-fine", "Your order ({{1}})", False),
    ("edge-bold-marker-after-the-last-is-fine", "Your code is *{{1}}*", False),
    ("edge-bold-marker-before-the-first-is-fine", "*{{1}}* is your code.", False),
    (
        "edge-metas-documented-named-example-is-fine",
        "Thank you, {{first_name}}! Your order number is {{order_number}}.",
        False,
    ),
    ("edge-punctuation-then-a-new-line-still-fine", "Your code is {{1}}.\n", False),
    ("edge-a-new-line-after-the-last-still-ends", "Your code is\n{{1}}\n", True),
    ("edge-no-placeholder", "Thanks for writing.", False),
    ("edge-empty", "", False),
]


@pytest.mark.parametrize(("text", "refused"), [r[1:] for r in EDGE_ROWS], ids=[r[0] for r in EDGE_ROWS])
def test_body_may_not_start_or_end_with_a_placeholder(text, refused):
    expected = "the body may not start or end with a placeholder" if refused else None
    assert edge_placeholder_error(text) == expected


def test_tokens_are_what_is_written_between_the_braces():
    assert tokens("Hi {{1}}, {{ name }} and {{}}.") == ["1", " name ", ""]
    assert tokens("") == []


# --- parameter_names ---------------------------------------------------------------------------------

NAMES_ROWS = [
    ("names-positional-in-order", "Hi {{1}}, order {{2}}.", POSITIONAL, ["1", "2"]),
    (
        "names-positional-unique-and-numeric-order",
        "{{10}} {{9}} {{2}} {{1}} {{2}}",
        POSITIONAL,
        ["1", "2", "9", "10"],
    ),
    (
        "names-named-first-appearance-order",
        "{{order_id}} for {{first_name}}, {{order_id}}",
        NAMED,
        ["order_id", "first_name"],
    ),
    ("names-positional-ignores-named-and-malformed", "{{1}} {{name}} {{ 2 }}", POSITIONAL, ["1"]),
    ("names-named-ignores-numbers-and-malformed", "{{name}} {{1}} {{Name}}", NAMED, ["name"]),
    ("names-none", "Thanks for writing.", NAMED, []),
    ("names-empty-text", "", POSITIONAL, []),
]


@pytest.mark.parametrize(
    ("text", "fmt", "names"), [r[1:] for r in NAMES_ROWS], ids=[r[0] for r in NAMES_ROWS]
)
def test_parameter_names(text, fmt, names):
    assert parameter_names(text, fmt) == names


# --- render ----------------------------------------------------------------------------------------

RENDER_ROWS = [
    (
        "render-positional-list",
        "Hi {{1}}, order {{2}} is ready.",
        POSITIONAL,
        ["Ana", "A-17"],
        "Hi Ana, order A-17 is ready.",
    ),
    (
        "render-positional-tuple",
        "Hi {{1}}, order {{2}} is ready.",
        POSITIONAL,
        ("Ana", "A-17"),
        "Hi Ana, order A-17 is ready.",
    ),
    (
        "render-positional-any-order",
        "Order {{2}} for {{1}}.",
        POSITIONAL,
        ["Ana", "A-17"],
        "Order A-17 for Ana.",
    ),
    (
        "render-positional-repeated-use",
        "Hi {{1}}, order {{2}} — thanks, {{1}}!",
        POSITIONAL,
        ["Ana", "A-17"],
        "Hi Ana, order A-17 — thanks, Ana!",
    ),
    (
        "render-params-as-numbers",
        "You have {{1}} items costing {{2}} EUR.",
        POSITIONAL,
        [3, 2.5],
        "You have 3 items costing 2.5 EUR.",
    ),
    ("render-zero-is-a-value", "You have {{1}} new messages.", POSITIONAL, [0], "You have 0 new messages."),
    (
        "render-named-dict",
        "Hi {{first_name}}, order {{order_id}}.",
        NAMED,
        {"first_name": "Ana", "order_id": 17},
        "Hi Ana, order 17.",
    ),
    (
        "render-no-placeholders-positional-None",
        "Thanks for writing.",
        POSITIONAL,
        None,
        "Thanks for writing.",
    ),
    ("render-no-placeholders-positional-empty", "Thanks for writing.", POSITIONAL, [], "Thanks for writing."),
    ("render-no-placeholders-named-None", "Thanks for writing.", NAMED, None, "Thanks for writing."),
    (
        "render-values-are-not-expanded-again",
        "A {{1}} B {{2}} C",
        POSITIONAL,
        ["{{2}}", "x"],
        "A {{2}} B x C",
    ),
    (
        "render-four-spaces-are-allowed",
        "Hi {{1}}, welcome.",
        POSITIONAL,
        ["Ana    Lee"],
        "Hi Ana    Lee, welcome.",
    ),
    ("render-malformed-tokens-left-as-written", "Hi {{1}} {{ x }}.", POSITIONAL, ["Ana"], "Hi Ana {{ x }}."),
]


@pytest.mark.parametrize(
    ("text", "fmt", "params", "expected"), [r[1:] for r in RENDER_ROWS], ids=[r[0] for r in RENDER_ROWS]
)
def test_render(text, fmt, params, expected):
    assert render(text, fmt, params) == expected


def test_normalise_params_returns_text_by_placeholder():
    assert normalise_params("Hi {{1}}, {{2}} items", POSITIONAL, ["Ana", 3]) == {"1": "Ana", "2": "3"}
    assert normalise_params("Hi {{name}}", NAMED, {"name": "Ana"}) == {"name": "Ana"}


BAD_CHARS = "parameter {{1}} may not contain new lines, tabs or more than four spaces in a row"
PARAM_ERROR_ROWS = [
    (
        "params-too-few",
        "Hi {{1}}, order {{2}}.",
        POSITIONAL,
        ["Ana"],
        ["this template takes 2 parameters, got 1"],
    ),
    (
        "params-too-many",
        "Hi {{1}}, order {{2}}.",
        POSITIONAL,
        ["Ana", "A", "B"],
        ["this template takes 2 parameters, got 3"],
    ),
    (
        "params-one-expected-none-given",
        "Hi {{1}}, welcome.",
        POSITIONAL,
        [],
        ["this template takes 1 parameter, got 0"],
    ),
    (
        "params-None-for-positional",
        "Hi {{1}}, welcome.",
        POSITIONAL,
        None,
        ["this template takes 1 parameter, got 0"],
    ),
    (
        "params-repeated-positional-counts-once",
        "Hi {{1}}, bye {{1}}.",
        POSITIONAL,
        ["Ana", "Ana"],
        ["this template takes 1 parameter, got 2"],
    ),
    (
        "params-given-to-a-template-without-placeholders",
        "Thanks.",
        POSITIONAL,
        ["x"],
        ["this template takes 0 parameters, got 1"],
    ),
    (
        "params-dict-given-to-positional",
        "Hi {{1}}, welcome.",
        POSITIONAL,
        {"1": "Ana"},
        ["this template takes a list of 1 positional parameter, not a dict"],
    ),
    (
        "params-string-given-to-positional",
        "Hi {{1}}, welcome.",
        POSITIONAL,
        "Ana",
        ["this template takes a list of 1 positional parameter, not a str"],
    ),
    (
        "params-list-given-to-named",
        "Hi {{first_name}}, welcome.",
        NAMED,
        ["Ana"],
        ["this template takes named parameters (first_name), not a list"],
    ),
    ("params-missing-name", "Hi {{first_name}}, welcome.", NAMED, {}, ["missing parameter: first_name"]),
    ("params-None-for-named", "Hi {{first_name}}, welcome.", NAMED, None, ["missing parameter: first_name"]),
    (
        "params-missing-names-in-template-order",
        "Hi {{first_name}}, order {{order_id}}.",
        NAMED,
        {},
        ["missing parameters: first_name, order_id"],
    ),
    (
        "params-unknown-name",
        "Hi {{first_name}}, welcome.",
        NAMED,
        {"first_name": "Ana", "nickname": "An"},
        ["unknown parameter: nickname"],
    ),
    (
        "params-unknown-names-sorted",
        "Hi {{first_name}}, welcome.",
        NAMED,
        {"first_name": "Ana", "zeta": "z", "alpha": "a"},
        ["unknown parameters: alpha, zeta"],
    ),
    (
        "params-missing-and-unknown-at-once",
        "Hi {{first_name}}, welcome.",
        NAMED,
        {"firstname": "Ana"},
        ["missing parameter: first_name", "unknown parameter: firstname"],
    ),
    ("value-empty", "Hi {{1}}, welcome.", POSITIONAL, [""], ["parameter {{1}} is empty"]),
    ("value-only-spaces", "Hi {{1}}, welcome.", POSITIONAL, ["   "], ["parameter {{1}} is empty"]),
    (
        "value-named-empty",
        "Hi {{first_name}}, welcome.",
        NAMED,
        {"first_name": ""},
        ["parameter {{first_name}} is empty"],
    ),
    ("value-newline", "Hi {{1}}, welcome.", POSITIONAL, ["Ana\nLee"], [BAD_CHARS]),
    ("value-carriage-return-newline", "Hi {{1}}, welcome.", POSITIONAL, ["Ana\r\nLee"], [BAD_CHARS]),
    ("value-tab", "Hi {{1}}, welcome.", POSITIONAL, ["Ana\tLee"], [BAD_CHARS]),
    ("value-five-spaces", "Hi {{1}}, welcome.", POSITIONAL, ["Ana     Lee"], [BAD_CHARS]),
    ("value-None", "Hi {{1}}, welcome.", POSITIONAL, [None], ["parameter {{1}} must be text"]),
    ("value-bool", "Hi {{1}}, welcome.", POSITIONAL, [True], ["parameter {{1}} must be text"]),
    ("value-list", "Hi {{1}}, welcome.", POSITIONAL, [["Ana"]], ["parameter {{1}} must be text"]),
    (
        "values-every-problem-reported-at-once",
        "Hi {{1}}, order {{2}}, {{3}}.",
        POSITIONAL,
        ["", "A\t17", None],
        [
            "parameter {{1}} is empty",
            "parameter {{2}} may not contain new lines, tabs or more than four spaces in a row",
            "parameter {{3}} must be text",
        ],
    ),
    (
        "names-and-values-reported-at-once",
        "Hi {{first_name}}, order {{order_id}}.",
        NAMED,
        {"first_name": "   ", "extra": "x"},
        ["missing parameter: order_id", "unknown parameter: extra", "parameter {{first_name}} is empty"],
    ),
]


@pytest.mark.parametrize(
    ("text", "fmt", "params", "errors"),
    [r[1:] for r in PARAM_ERROR_ROWS],
    ids=[r[0] for r in PARAM_ERROR_ROWS],
)
def test_params_that_do_not_fit_are_refused_in_plain_words(text, fmt, params, errors):
    with pytest.raises(TemplateParamsInvalid) as caught:
        render(text, fmt, params)
    error = caught.value
    assert error.errors == errors
    assert str(error) == error.message == "; ".join(errors)
    assert error.code == "template_params_invalid"
    assert isinstance(error, DomainError)
    assert isinstance(error, ValueError)  # callers that only know ValueError still catch it
