"""The reports area over HTTP: login and the report permission on every page and CSV, whose figures each
role sees, CSV equal to the table on the page, charts as accessible SVG, constant query counts."""

import csv
import html
import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.reports.conftest import NOW, person, template, text, utc, wrote

pytestmark = pytest.mark.django_db

WEEK = {"range": "custom", "start": "2026-01-05", "end": "2026-01-11"}
PAGES = ["reports:conversations", "reports:windows", "reports:costs"]
TABLES = {
    "reports:conversations": ["per-day", "categories", "agents", "countries", "closed-early", "voided"],
    "reports:windows": ["per-day", "agents", "lost"],
    "reports:costs": [
        "categories",
        "platform",
        "differences",
        "difference-messages",
        "countries",
        "per-day",
        "free-messages",
        "free-rules",
        "rates",
    ],
}


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def client_as(client):
    def login(account):
        client.force_login(account)
        return client

    return login


def html_table(page: str, slug: str) -> list[list[str]]:
    """The cells of one table on the page, row by row (header, body, footer)."""
    section = re.search(rf'id="table-{slug}".*?</table>', page, re.S).group(0)
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", section, re.S):
        if 'class="empty"' in row:
            continue
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in cells])  # a link's text
    return rows


def csv_table(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


# --- Access -------------------------------------------------------------------------------------------

URLS = ["reports:index", *PAGES]


@pytest.mark.parametrize("name", URLS)
def test_every_page_needs_a_login(client, name):
    response = client.get(reverse(name), WEEK)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("name", PAGES)
def test_every_csv_needs_a_login_too(client, name):
    response = client.get(reverse(name), {**WEEK, "format": "csv", "table": TABLES[name][0]})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("name", URLS)
def test_a_user_without_a_role_gets_a_403_naming_the_permission(client_as, name):
    response = client_as(person("nobody")).get(reverse(name), {**WEEK, "format": "csv", "table": "per-day"})
    assert response.status_code == 403
    assert "see reports" in response.text


@pytest.mark.parametrize("role", ["agents", "supervisors", "admins"])
def test_every_role_reaches_the_reports_from_the_top_bar(client_as, role):
    page = client_as(person("someone", role)).get(reverse("reports:index"), follow=True)
    assert page.status_code == 200
    assert f'href="{reverse("reports:index")}"' in page.text
    assert "<h1>Reports</h1>" in page.text


def test_a_user_without_a_role_has_no_reports_link(client_as):
    page = client_as(person("nobody")).get(reverse("reports:conversations"))
    assert page.status_code == 403 and "Log out" in page.text
    assert ">Reports</a>" not in page.text


def test_an_agent_sees_only_their_own_figures(client_as, week):
    alex = client_as(week["alex"])
    for name in PAGES:
        page = alex.get(reverse(name), WEEK).text
        assert "your own figures" in page
        assert "Sam (sam)" not in page
    agents = html_table(alex.get(reverse("reports:windows"), WEEK).text, "agents")
    assert [row[0] for row in agents] == ["agent", "Alex (alex)", "total"]


def test_supervisors_and_admins_see_everyone(client_as, week):
    for account in (week["supervisor"], person("robin", "admins")):
        page = client_as(account).get(reverse("reports:conversations"), WEEK).text
        assert "your own figures" not in page
        assert "Alex (alex)" in page and "Sam (sam)" in page


# --- Pages, CSV and charts -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_every_table_downloads_as_the_same_csv(client_as, week, rates, name):
    supervisor = client_as(week["supervisor"])
    page = supervisor.get(reverse(name), WEEK)
    assert page.status_code == 200
    for slug in TABLES[name]:
        download = supervisor.get(reverse(name), {**WEEK, "format": "csv", "table": slug})
        assert download.status_code == 200
        assert download["Content-Type"].startswith("text/csv")
        assert f"-{slug}-20260105-20260111.csv" in download["Content-Disposition"]
        assert csv_table(download) == html_table(page.text, slug), slug
        # The link on the page carries the same filters.
        assert (
            f"range=custom&amp;start=2026-01-05&amp;end=2026-01-11&amp;format=csv&amp;table={slug}"
            in page.text
        )


def test_the_csv_of_an_agent_has_only_their_figures(client_as, week):
    download = client_as(week["sam"]).get(
        reverse("reports:conversations"), {**WEEK, "format": "csv", "table": "agents"}
    )
    assert csv_table(download) == [
        ["agent", "Marketing", "Utility", "Authentication", "Service", "Free-entry point", "total"],
        ["Sam (sam)", "0", "1", "1", "1", "1", "4"],
    ]


def test_an_unknown_table_is_a_404(client_as, week):
    response = client_as(week["supervisor"]).get(
        reverse("reports:windows"), {"format": "csv", "table": "nope"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "slug", "title", "y_label"),
    [
        (
            "reports:conversations",
            "conversations-per-day",
            "Conversations opened per day, by category",
            "Conversations opened",
        ),
        (
            "reports:windows",
            "windows-per-day",
            "Customer service windows opened per day, by outcome",
            "Windows",
        ),
        (
            "reports:costs",
            "cost-per-day",
            "Estimated cost per day (USD), both pricing models",
            "Estimated cost (USD)",
        ),
    ],
)
def test_charts_are_svg_with_a_title_axis_labels_a_legend_and_bar_titles(
    client_as, week, rates, name, slug, title, y_label
):
    page = client_as(week["supervisor"]).get(reverse(name), WEEK).text
    svg = re.search(
        rf'<svg class="chart".*?aria-labelledby="chart-{slug}-title chart-{slug}-desc".*?</svg>', page, re.S
    )
    assert svg, "the chart is missing"
    svg = svg.group(0)
    assert f'<title id="chart-{slug}-title">{html.escape(title)}</title>' in svg
    assert f'<desc id="chart-{slug}-desc">' in svg
    assert f">{y_label}</text>" in svg and "(Europe/Berlin)</text>" in svg  # both axes are labelled
    assert re.search(r"<rect [^>]*fill=\"#[0-9a-f]{6}\"><title>\d\d \w\w\w · .+?: .+?</title></rect>", svg)
    assert "style=" not in page  # the Content-Security-Policy forbids inline styles
    assert "<script>" not in page


def test_the_conversation_chart_stacks_what_the_table_says(client_as, week):
    page = client_as(week["supervisor"]).get(reverse("reports:conversations"), WEEK).text
    assert "<title>06 Jan · Service: 1</title>" in page
    assert "<title>06 Jan · Utility: 1</title>" in page
    assert "<title>07 Jan · Free-entry point: 1</title>" in page


def test_presets_and_a_bad_custom_range(client_as, week):
    supervisor = client_as(week["supervisor"])
    today = supervisor.get(reverse("reports:conversations"), {"range": "today"}).text
    assert "Sun 11 Jan 2026" in today
    month = supervisor.get(reverse("reports:conversations"), {"range": "month"}).text
    assert "01 Jan 2026 – 11 Jan 2026" in month and "compared with the previous 11 days" in month
    thirty = supervisor.get(reverse("reports:conversations"), {"range": "30d"}).text
    assert "13 Dec 2025 – 11 Jan 2026" in thirty
    default = supervisor.get(reverse("reports:conversations")).text
    assert "05 Jan 2026 – 11 Jan 2026" in default  # the last 7 days
    bad = supervisor.get(
        reverse("reports:conversations"), {"range": "custom", "start": "2026-01-09", "end": "2026-01-02"}
    )
    assert bad.status_code == 200
    assert problems(bad.text) == [
        "The last day (2026-01-02) comes before the first day (2026-01-09).",
        "Showing the last 7 days instead.",
    ]
    assert "05 Jan 2026 – 11 Jan 2026" in bad.text


def problems(page: str) -> list[str]:
    """The sentences of the period form's error, each on its own (a list item or paragraph)."""
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', page, re.S)
    if alert is None:
        return []
    return [html.unescape(text).strip() for text in re.findall(r"<(?:li|p)>(.*?)</(?:li|p)>", alert.group(1))]


@pytest.mark.parametrize(
    ("query", "sentences"),
    [
        (
            {"start": "2026-13-45", "end": "foo"},
            [
                "“2026-13-45” is not a day: write the first day (From) as YYYY-MM-DD, like 2026-01-31.",
                "“foo” is not a day: write the last day (To) as YYYY-MM-DD, like 2026-01-31.",
            ],
        ),
        (
            {"range": "custom", "start": "2026-01-05", "end": "2026-02-30"},
            ["“2026-02-30” is not a day: write the last day (To) as YYYY-MM-DD, like 2026-01-31."],
        ),
        (
            {"range": "custom", "start": "2026-01-05"},
            ["A custom period needs both a first day (From) and a last day (To)."],
        ),
        (
            {"range": "fortnight"},
            ["“fortnight” is not a period these reports offer: choose one from the list."],
        ),
        (
            {"range": "custom", "start": "2020-01-01", "end": "2026-01-11"},
            ["A period can cover at most 731 days; 2020-01-01 to 2026-01-11 is 2203 days."],
        ),
    ],
)
def test_bad_dates_are_explained_one_sentence_each_and_the_csv_refuses_them(
    client_as, week, query, sentences
):
    supervisor = client_as(week["supervisor"])
    page = supervisor.get(reverse("reports:windows"), query)
    assert page.status_code == 200
    assert problems(page.text) == [*sentences, "Showing the last 7 days instead."]
    assert "05 Jan 2026 – 11 Jan 2026" in page.text

    download = supervisor.get(reverse("reports:windows"), {**query, "format": "csv", "table": "per-day"})
    assert download.status_code == 400
    assert download["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in download
    assert download.content.decode().splitlines() == [
        "No CSV: the period asked for cannot be used.",
        *sentences,
    ]


def test_a_csv_without_a_period_is_the_default_one(client_as, week):
    download = client_as(week["supervisor"]).get(
        reverse("reports:windows"), {"format": "csv", "table": "per-day"}
    )
    assert download.status_code == 200
    assert "-per-day-20260105-20260111.csv" in download["Content-Disposition"]


# --- Constant query counts ---------------------------------------------------------------------------


def _busier_week(count: int):
    """More customers, agents and conversations of every kind on the same days."""
    from tests import factories

    marketing = factories.template("MARKETING")
    for n in range(count):
        agent = person(f"extra{n}", "agents")
        customer = wrote(f"49151{n:08d}", utc(6, "09:00") + timedelta(minutes=n), name=f"Extra {n}")
        text(customer, utc(6, "10:00") + timedelta(minutes=n), agent)
        template(customer, utc(9, "10:00") + timedelta(minutes=n), agent, marketing)
        wrote(f"55119{n:08d}", utc(7, "09:00") + timedelta(minutes=n), name=f"Lost {n}")


@pytest.mark.parametrize("name", PAGES)
def test_each_page_runs_the_same_number_of_queries_for_small_and_larger_data(client_as, week, rates, name):
    supervisor = client_as(week["supervisor"])
    supervisor.get(reverse(name), WEEK)  # warm up: session, permissions cache
    with CaptureQueriesContext(connection) as small:
        assert supervisor.get(reverse(name), WEEK).status_code == 200
    _busier_week(12)
    with CaptureQueriesContext(connection) as larger:
        assert supervisor.get(reverse(name), WEEK).status_code == 200
    assert len(larger) == len(small), [q["sql"][:120] for q in larger]
    assert len(small) <= 16, [q["sql"][:120] for q in small]
