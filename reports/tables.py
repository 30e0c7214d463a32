"""Report tables: one object feeds both the HTML table and its CSV download, through one formatting
function, so the CSV is exactly the table a supervisor sees."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

NOT_AVAILABLE = "n/a"
# A spreadsheet opening a CSV runs a cell that begins with one of these as a formula (OWASP "CSV
# injection"; ASVS 1.2.10 adds the null character, OWASP the full-width forms).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __str__(self):
        return f"{self.amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)} {self.currency}"


@dataclass(frozen=True)
class Link:
    """A cell that links somewhere (an admin page: shown as a link only to those who may use the admin);
    its text alone in the CSV."""

    text: str
    url: str
    admin: bool = False

    def __str__(self):
        return self.text


@dataclass(frozen=True)
class Change:
    """The current figure against the previous period's: "+3 (+12.5%)", "-2 (-10.0%)", "+3 (new)"."""

    current: float | int | Decimal
    previous: float | int | Decimal

    def __str__(self):
        difference = self.current - self.previous
        sign = "+" if difference >= 0 else "-"
        magnitude = abs(difference)
        text = f"{sign}{magnitude:.2f}" if isinstance(magnitude, Decimal) else f"{sign}{magnitude:g}"
        if self.previous == 0:
            return f"{text} (new)" if self.current else "0"
        return f"{text} ({sign}{abs(difference) / self.previous * 100:.1f}%)"

    @property
    def direction(self) -> str:
        return "up" if self.current > self.previous else "down" if self.current < self.previous else "same"


@dataclass(frozen=True)
class Percent:
    part: int
    whole: int

    def __str__(self):
        return f"{self.part / self.whole * 100:.1f}%" if self.whole else NOT_AVAILABLE


def duration(milliseconds: float | None) -> timedelta | None:
    return None if milliseconds is None else timedelta(milliseconds=milliseconds)


def cell(value) -> str:
    """The text of a cell, in the page and in the CSV alike."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, timedelta):
        seconds = round(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def spreadsheet_text(text: str) -> str:
    """Text for a CSV cell that a spreadsheet shows and never runs: a customer named "=HYPERLINK(…)" gets
    a leading "'", which spreadsheets take as "this is text". Every CSV the project writes goes through
    this (Table.csv)."""
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


def csv_cell(value) -> str:
    """A cell of the CSV: the page's text, guarded where it is text (a name, a note, a link's text: text is
    where someone's input ends up). Figures the reports compute (counts, money and amounts such as
    "-0.01 USD", changes such as "-2 (-10.0%)", dates, durations) stay as they are, so a spreadsheet still
    reads them as numbers."""
    text = cell(value)
    return spreadsheet_text(text) if isinstance(value, str | Link) else text


@dataclass
class Table:
    slug: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    totals: list | None = None
    note: str = ""
    numeric_from: int = 1  # columns from this index on are figures (right-aligned)

    def header(self) -> list[str]:
        return list(self.columns)

    def body(self) -> list[list[str]]:
        return [[cell(value) for value in row] for row in self.rows]

    def linked_body(self) -> list[list[tuple[str, str | None, bool]]]:
        """The body for the page: each cell's text (as in the CSV), the address it links to if any, and
        whether that is an admin page."""
        return [
            [
                (cell(value), value.url, value.admin)
                if isinstance(value, Link)
                else (cell(value), None, False)
                for value in row
            ]
            for row in self.rows
        ]

    def footer(self) -> list[str] | None:
        return [cell(value) for value in self.totals] if self.totals is not None else None

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([csv_cell(value) for value in self.columns])
        writer.writerows([csv_cell(value) for value in row] for row in self.rows)
        if self.totals is not None and self.rows:
            writer.writerow([csv_cell(value) for value in self.totals])
        return buffer.getvalue()
