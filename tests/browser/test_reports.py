"""A supervisor answers questions from the reports in a real browser (issue 6), on the demo data.

The answers on the pages are checked against the database (counted here with the ORM, not with the
reports' own code), the CSV a click downloads against the table on screen, and the charts for what a
screen reader needs. conftest.py fails a test on any Content-Security-Policy violation or console error.
"""

import csv
import io
import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from conversations.models import Conversation
from reports.periods import Preset, preset_period
from tests.browser.test_inbox import save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("demo"),
    pytest.mark.demo_history(21),
]


@pytest.fixture
def supervisor(log_in) -> Page:
    return log_in("supervisor", "supervisor-demo")


def opened_in(preset: Preset, category: str) -> int:
    """Conversations of `category` opened in the preset's days (business time zone), voided ones apart."""
    period = preset_period(preset, tz=ZoneInfo(settings.BUSINESS_TIME_ZONE), now=timezone.now())
    return (
        Conversation.objects.filter(category=category, opened_at__gte=period.start, opened_at__lt=period.end)
        .exclude(status=Conversation.Status.VOIDED)
        .count()
    )


def card_value(page: Page, label: str) -> str:
    card = page.locator("li.card").filter(has=page.locator(".card-label", has_text=label))
    return card.locator(".card-value").first.inner_text()


def table_rows(page: Page, slug: str) -> list[list[str]]:
    """The table as a person reads it: header, body rows and footer, cell texts."""
    return page.locator(f"#table-{slug} table").evaluate(
        """table => [...table.rows].map(row => [...row.cells].map(cell => cell.innerText.trim()))"""
    )


def test_a_supervisor_finds_last_weeks_marketing_conversations_and_downloads_the_table(supervisor):
    page = supervisor
    page.goto("/")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text("Conversations")

    # The default period (last 7 days), then last week (Monday to Sunday) from the period menu.
    assert card_value(page, "Marketing") == str(opened_in(Preset.LAST_7_DAYS, "marketing"))
    assert opened_in(Preset.LAST_WEEK, "marketing") > 0  # the demo's history has a campaign every week
    page.get_by_label("Period").select_option(label="Last week (Mon–Sun)")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**range=lastweek**")
    period = preset_period(Preset.LAST_WEEK, tz=ZoneInfo(settings.BUSINESS_TIME_ZONE), now=timezone.now())
    expect(page.get_by_role("heading", level=2)).to_contain_text(period.label())
    assert card_value(page, "Marketing") == str(opened_in(Preset.LAST_WEEK, "marketing"))
    assert period.first.weekday() == 0 and period.days == 7
    save_screenshot(page, "reports-conversations")

    # The chart: an image with a name and a description, its numbers in the table below.
    chart = page.locator("figure.chart-figure svg").first
    assert chart.get_attribute("role") == "img"
    labelled_by = chart.get_attribute("aria-labelledby")
    assert labelled_by and page.locator(f"[id='{labelled_by.split()[0]}']").text_content().startswith(
        "Conversations opened per day"
    )
    chart.locator("xpath=ancestor::figure").get_by_role("link", name="table below").click()
    expect(page).to_have_url(re.compile(r"#table-per-day$"))

    # The CSV a click downloads is the table on screen, with the same filters.
    on_screen = table_rows(page, "categories")
    with page.expect_download() as download:
        page.locator("#table-categories").get_by_role("link", name="Download CSV").click()
    assert "range=lastweek" in download.value.url
    assert download.value.suggested_filename == (
        f"conversations-categories-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv"
    )
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert [row[:2] for row in rows] == [row[:2] for row in on_screen]
    marketing = next(row for row in rows if row[0] == "Marketing")
    assert marketing[1] == str(opened_in(Preset.LAST_WEEK, "marketing"))

    # The other pages keep the period.
    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Windows").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text(
        f"Customer service windows: {period.label()}"
    )
    expect(page.locator("li.card", has_text="Lost")).to_be_visible()
    expect(page.locator(".period-note")).to_contain_text("from the daily rollup, later days counted live")
    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Cost").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text(period.label())
    page.get_by_label("Period").select_option(label="Last 30 days")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**range=30d**")
    save_screenshot(page, "reports-costs")


def test_an_agent_sees_only_their_own_figures_and_a_bad_period_is_explained(log_in):
    page = log_in("agent", "agent-demo")
    page.goto("/reports/conversations/?range=custom&start=2026-02-05&end=2026-02-01")
    expect(page.get_by_role("alert").get_by_role("listitem")).to_have_text(
        ["The last day (2026-02-01) comes before the first day (2026-02-05)."]
    )
    expect(page.get_by_role("alert").locator("p")).to_have_text("Showing the last 7 days instead.")
    expect(page.get_by_role("note").first).to_contain_text("your own figures")


def test_bad_dates_are_explained_one_line_each(log_in):
    page = log_in("supervisor", "supervisor-demo")
    page.goto("/reports/windows/?start=2026-13-45&end=foo")
    expect(page.get_by_role("alert").get_by_role("listitem")).to_have_text(
        [
            "“2026-13-45” is not a day: write the first day (From) as YYYY-MM-DD, like 2026-01-31.",
            "“foo” is not a day: write the last day (To) as YYYY-MM-DD, like 2026-01-31.",
        ]
    )
    expect(page.get_by_role("alert").locator("p")).to_have_text("Showing the last 7 days instead.")
