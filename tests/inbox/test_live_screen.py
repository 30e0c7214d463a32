"""The agent's screen never moves under them (issue 11): what the server answers the page's polls and
re-renders, over time. The browser half (the merge in place, the draft, the notice) is in
tests/browser/test_live_screen.py.

- The list poll answers 204 when nothing it shows changed, whatever the clock says: countdowns tick in
  the browser from `datetime` attributes (R1), so seconds, minutes and hours passing are no news.
- When something changed it answers every row down to the last one the page shows, each with a
  fingerprint, so the page replaces only the rows that changed.
- The thread, the compose area and the side panel carry the data the window depends on, so the page can
  follow a window that reopens (the customer wrote, R1) or closes (R2) without a reload.
- A request the page makes without a session gets 401 (a notice in the page), never the sign-in page.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services
from conversations.models import Message
from tests import factories
from tests.inbox.test_views import INBOX_URLS

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def agent():
    account = User.objects.create_user("alex", password="pw", first_name="Alex")
    account.groups.set([Group.objects.get(name="agents")])
    return account


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def wrote(wa_id, *, at, body="Hello?", name="Customer"):
    return services.receive_message(
        wa_id=wa_id, body=body, wamid=f"w-{wa_id}-{uuid.uuid4().hex[:6]}", timestamp=at, name=name
    ).customer


def version(html: str) -> str:
    return re.search(r'data-version="([0-9a-f]+)"', html).group(1)


def rows(html: str) -> dict[str, str]:
    """customer id → fingerprint, in the order the list shows them."""
    return dict(re.findall(r'<li class="row[^"]*" data-id="(\d+)" data-fp="([0-9a-f]+)"', html))


def poll(client, v, **params):
    return client.get(reverse("inbox:list"), {"v": v, **params}, **HTMX)


def test_polls_with_nothing_new_answer_204_while_the_countdowns_tick(client, agent, clock):
    # R1: Ana's window closes at 11:00 tomorrow, Ben's at 12:30 tomorrow, Cai's closed yesterday.
    wrote("16505550001", at=NOW - timedelta(hours=1), name="Ana")
    wrote("16505550002", at=NOW - timedelta(minutes=30), name="Ben")
    wrote("16505550003", at=NOW - timedelta(hours=30), name="Cai")
    client.force_login(agent)
    first = client.get(reverse("inbox:list"), {"view": "all"}, **HTMX)
    assert first.status_code == 200 and 'datetime="2026-03-03T11:00:00+00:00"' in first.text
    v = version(first.text)
    # Two polls a few seconds apart, then a minute and an hour later: the countdown text would have
    # changed every second; the screen has nothing new.
    for later in (timedelta(seconds=3), timedelta(seconds=5), timedelta(minutes=1), timedelta(hours=1)):
        clock.move_to(NOW + later)
        assert poll(client, v, view="all", through="end").status_code == 204, later

    # Ben writes again: news. Only his row's fingerprint changes; the others are as the page has them.
    before = rows(first.text)
    clock.move_to(NOW + timedelta(hours=1, seconds=10))
    ben = wrote("16505550002", at=NOW + timedelta(hours=1, seconds=5), body="Still there?", name="Ben")
    changed = poll(client, v, view="all", through="end")
    assert changed.status_code == 200
    after = rows(changed.text)
    assert next(iter(after)) == str(ben.pk)  # latest activity first
    assert {pk for pk in after if after[pk] != before[pk]} == {str(ben.pk)}
    assert "Still there?" in changed.text
    # …and the next poll with the new version has nothing new again.
    assert poll(client, version(changed.text), view="all", through="end").status_code == 204


def test_a_window_closing_is_news_only_through_what_the_list_counts(client, agent, clock):
    # R1 at the exact boundary: Ana wrote at 12:00, her window is open at 11:59:59 tomorrow and closed
    # at 12:00:00. The row's badge flips in the browser; the server's news is the filter counts.
    wrote("16505550001", at=NOW, name="Ana")
    client.force_login(agent)
    clock.move_to(NOW + timedelta(hours=23, minutes=59, seconds=58))
    first = client.get(reverse("inbox:list"), {"view": "all"}, **HTMX)
    assert re.search(r'id="count-needs-reply"[^>]*>1<', first.text)
    v = version(first.text)
    clock.move_to(NOW + timedelta(hours=23, minutes=59, seconds=59))
    assert poll(client, v, view="all", through="end").status_code == 204
    clock.move_to(NOW + timedelta(hours=24))
    closed = poll(client, v, view="all", through="end")
    assert closed.status_code == 200
    assert re.search(r'id="count-needs-reply"[^>]*>0<', closed.text)
    assert rows(closed.text) == rows(first.text)  # the row itself shows the same data: not replaced


def test_the_needs_reply_view_loses_a_customer_whose_window_closed(client, agent, clock):
    ana = wrote("16505550001", at=NOW, name="Ana")
    clock.move_to(NOW + timedelta(hours=2))  # Ben's message arrives when he sends it (never from the future)
    ben = wrote("16505550002", at=NOW + timedelta(hours=2), name="Ben")
    client.force_login(agent)
    clock.move_to(NOW + timedelta(hours=23))
    first = client.get(reverse("inbox:list"), {"view": "needs-reply"}, **HTMX)
    assert list(rows(first.text)) == [str(ben.pk), str(ana.pk)]
    clock.move_to(NOW + timedelta(hours=24))  # R1: Ana's window closed; a reply is no longer possible
    later = poll(client, version(first.text), view="needs-reply", through="end")
    assert later.status_code == 200 and list(rows(later.text)) == [str(ben.pk)]


def test_the_poll_covers_every_row_the_page_shows_down_to_through(client, agent, clock):
    customers = [
        wrote(f"165055501{i:02d}", at=NOW - timedelta(minutes=i), name=f"C{i:02d}") for i in range(60)
    ]
    client.force_login(agent)
    page_one = client.get(reverse("inbox:list"), {"view": "all"}, **HTMX).text
    assert len(rows(page_one)) == 25
    cursor = re.search(r'before=([^"&]+)', page_one).group(1).replace("%7C", "|").replace("%3A", ":")
    cursor = cursor.replace("%2B", "+")
    page_two = client.get(reverse("inbox:list"), {"view": "all", "before": cursor}, **HTMX).text
    last = re.findall(r'data-cursor="([^"]+)"', page_two)[-1]
    # The page shows 50 rows; a new customer writes: the poll answers all 51, newest first.
    clock.move_to(NOW + timedelta(seconds=5))
    newcomer = wrote("16505559999", at=NOW + timedelta(seconds=1), name="Newcomer")
    answer = poll(client, "stale", view="all", through=last)
    shown = list(rows(answer.text))
    assert shown == [str(newcomer.pk)] + [str(c.pk) for c in customers[:50]]
    # Nothing changed since: 204, however many rows the page shows.
    assert poll(client, version(answer.text), view="all", through=last).status_code == 204


def test_poll_queries_are_constant_whatever_the_rows_shown(client, agent, clock):
    client.force_login(agent)

    def queries(through):
        with CaptureQueriesContext(connection) as captured:
            assert poll(client, "x", view="all", through=through).status_code == 200
        return len(captured)

    for i in range(5):
        wrote(f"165055502{i:02d}", at=NOW - timedelta(minutes=i))
    few = queries("end")
    for i in range(5, 120):
        wrote(f"165055502{i:02d}", at=NOW - timedelta(minutes=i))
    assert queries("end") == few
    v = version(poll(client, "x", view="all", through="end").text)
    with CaptureQueriesContext(connection) as captured:
        assert poll(client, v, view="all", through="end").status_code == 204
    assert len(captured) <= few


# --- The window, followed both ways --------------------------------------------------------------------


def window_key(html: str, element: str) -> str:
    return re.search(rf'id="{element}"[^>]*?data-window-key="([^"]+)"', html, re.S).group(1)


def test_thread_compose_and_side_carry_the_same_window_data_and_it_changes_when_the_customer_writes(
    client, agent, clock
):
    customer = wrote("16505550001", at=NOW - timedelta(hours=30), name="Ana")  # R2: closed
    client.force_login(agent)
    page = client.get(reverse("inbox:customer", args=[customer.pk])).text
    key = window_key(page, "thread")
    assert key == window_key(page, "compose") == window_key(page, "side")
    thread = client.get(reverse("inbox:thread", args=[customer.pk]), **HTMX).text
    assert window_key(thread, "thread") == key

    wrote("16505550001", at=NOW + timedelta(seconds=1), body="Hi again", name="Ana")  # R1: reopens
    clock.move_to(NOW + timedelta(seconds=3))
    thread = client.get(reverse("inbox:thread", args=[customer.pk]), **HTMX).text
    assert window_key(thread, "thread") != key
    compose = client.get(reverse("inbox:compose", args=[customer.pk]), **HTMX).text
    assert 'data-compose-mode="free-form"' in compose
    assert window_key(compose, "compose") == window_key(thread, "thread")
    side = client.get(reverse("inbox:side", args=[customer.pk]), **HTMX).text
    assert window_key(side, "side") == window_key(thread, "thread") and "Open until" in side


def test_the_compose_area_rerendered_keeps_the_template_being_filled_in(client, agent, clock):
    customer = wrote("16505550001", at=NOW - timedelta(hours=30), name="Ana")
    template = factories.template(category="UTILITY", body="Hi {{1}}, order {{2}} shipped.")
    client.force_login(agent)
    wrote("16505550001", at=NOW, name="Ana")  # the window reopened while the agent filled it in
    html = client.get(
        reverse("inbox:compose", args=[customer.pk]),
        {"template": template.pk, "p_1": "Ana", "p_2": "86"},
        **HTMX,
    ).text
    assert 'data-compose-mode="free-form"' in html
    assert f'value="{template.pk}" data-category="UTILITY"' in html and "selected" in html
    assert 'value="86"' in html
    assert "Hi Ana, order 86 shipped." in " ".join(re.sub(r"<[^>]+>", "", html).split())


def test_a_refused_send_tells_the_page_the_window_closed(client, agent, clock):
    customer = wrote("16505550001", at=NOW - timedelta(hours=23, minutes=59, seconds=59), name="Ana")
    client.force_login(agent)
    assert 'data-compose-mode="free-form"' in client.get(reverse("inbox:compose", args=[customer.pk])).text
    clock.move_to(NOW + timedelta(seconds=1))  # R2: exactly 24:00:00 after she wrote
    refused = client.post(
        reverse("inbox:send-text", args=[customer.pk]),
        {"body": "Sorry for the wait", "client_token": uuid.uuid4()},
        **HTMX,
    )
    assert refused.status_code == 409 and refused["HX-Trigger"] == "window-refused"
    assert 'data-compose-mode="template-only"' in refused.text
    assert "Sorry for the wait" in refused.text  # the draft, given back
    sent_ok = wrote("16505550001", at=NOW + timedelta(seconds=1), name="Ana")
    ok = client.post(
        reverse("inbox:send-text", args=[sent_ok.pk]),
        {"body": "Sorry for the wait", "client_token": uuid.uuid4()},
        **HTMX,
    )
    assert ok.status_code == 200 and 'data-sent="free_form"' in ok.text  # the page forgets its draft


# --- A session that ends ---------------------------------------------------------------------------------


# Every partial the page requests itself (the whole pages redirect to sign-in instead).
PAGE_REQUESTS = [url for url in INBOX_URLS if url[0] not in ("inbox:home", "inbox:customer")]


@pytest.mark.parametrize(("name", "per_customer", "method"), PAGE_REQUESTS, ids=[u[0] for u in PAGE_REQUESTS])
def test_a_request_the_page_makes_after_the_session_ended_gets_401_not_the_sign_in_page(
    client, name, per_customer, method
):
    customer = factories.customer()
    url = reverse(name, args=[customer.pk] if per_customer else [])
    response = getattr(client, method)(url, **HTMX)
    assert response.status_code == 401 and response["HX-Trigger"] == "signed-out"
    assert response["Content-Type"].startswith("text/plain")
    assert "You were signed out" in response.text and "<form" not in response.text


def test_the_page_itself_still_goes_to_the_sign_in_page(client):
    response = client.get(reverse("inbox:home"))
    assert response.status_code == 302 and response["Location"] == "/login/?next=/"


def test_the_page_carries_the_signed_out_notice(client, agent):
    client.force_login(agent)
    html = client.get(reverse("inbox:home")).text
    assert 'id="page-notice"' in html and "You were signed out." in html and 'href="/login/"' in html


def thread_version(html: str) -> str:
    return re.search(r'hx-vals=\'\{"v": "([0-9a-f]+)"\}\'', html).group(1)


def test_thread_polls_with_nothing_new_answer_204_and_a_tick_or_a_message_is_news(client, agent, clock):
    customer = wrote("16505550001", at=NOW - timedelta(hours=2), name="Ana")
    client.force_login(agent)
    page = client.get(reverse("inbox:customer", args=[customer.pk])).text
    v = thread_version(page)
    url = reverse("inbox:thread", args=[customer.pk])
    for later in (timedelta(seconds=4), timedelta(seconds=8), timedelta(minutes=5)):
        clock.move_to(NOW + later)
        assert client.get(url, {"v": v}, **HTMX).status_code == 204, later

    reply = services.send_text(customer=customer, body="On it!", agent=agent)
    changed = client.get(url, {"v": v}, **HTMX)
    assert changed.status_code == 200 and "On it!" in changed.text
    v = thread_version(changed.text)
    assert client.get(url, {"v": v}, **HTMX).status_code == 204
    # The platform says it was delivered: the ticks change, so the thread is news again.
    Message.objects.filter(pk=reply.pk).update(status="delivered", delivered_at=NOW + timedelta(minutes=6))
    ticked = client.get(url, {"v": v}, **HTMX)
    assert ticked.status_code == 200 and "ticks-delivered" in ticked.text
    # The window closing (R1, 24:00:00 after she wrote) is news too: a line says so.
    # Midnight is news once ("Today" becomes "Yesterday" on the day separator).
    clock.move_to(NOW + timedelta(hours=21, minutes=59, seconds=58))
    next_day = client.get(url, {"v": thread_version(ticked.text)}, **HTMX)
    assert next_day.status_code == 200 and "Yesterday" in next_day.text
    v = thread_version(next_day.text)
    clock.move_to(NOW + timedelta(hours=21, minutes=59, seconds=59))
    assert client.get(url, {"v": v}, **HTMX).status_code == 204
    clock.move_to(NOW + timedelta(hours=22))
    closed = client.get(url, {"v": v}, **HTMX)
    assert closed.status_code == 200 and "Customer service window closed" in closed.text


def test_opening_a_customer_from_the_list_renders_only_the_workspace(client, agent, clock):
    ana = wrote("16505550001", at=NOW - timedelta(minutes=5), name="Ana")
    client.force_login(agent)
    html = client.get(
        reverse("inbox:customer", args=[ana.pk]),
        {"view": "all"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="workspace",
    ).text
    assert html.lstrip().startswith('<div id="workspace"') and f'data-customer="{ana.pk}"' in html
    assert 'id="customer-list"' not in html and 'id="compose"' in html and 'id="side"' in html
    # Going back (htmx restoring history) gets the whole page.
    whole = client.get(
        reverse("inbox:customer", args=[ana.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="workspace",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    ).text
    assert 'id="customer-list"' in whole


def test_through_end_covers_a_complete_list_beyond_the_first_page(client, agent, clock):
    for i in range(30):
        wrote(f"165055503{i:02d}", at=NOW - timedelta(minutes=i))
    client.force_login(agent)
    assert len(rows(poll(client, "x", view="all", through="end").text)) == 30


def test_thread_bubbles_are_kept_and_rendered_again_only_when_what_they_show_changes(client, agent, clock):
    from django.core.cache import caches

    store = caches["bubbles"]
    store.clear()
    customer = wrote("16505550001", at=NOW - timedelta(hours=2), body="First", name="Ana")
    wrote("16505550001", at=NOW - timedelta(hours=1), body="Second <b>bold</b>", name="Ana")
    reply = services.send_text(customer=customer, body="Third", agent=agent)
    client.force_login(agent)
    url = reverse("inbox:thread", args=[customer.pk])
    first = client.get(url, **HTMX).text
    assert len(store._cache) == 3
    assert "Second &lt;b&gt;bold&lt;/b&gt;" in first  # kept bubbles are escaped like any
    assert client.get(url, **HTMX).text == first and len(store._cache) == 3  # all three kept

    Message.objects.filter(pk=reply.pk).update(status="read", read_at=NOW)
    read = client.get(url, **HTMX).text
    assert "ticks-read" in read and len(store._cache) == 4  # only the changed bubble rendered again
    # Another agent in another time zone sees their own times.
    client.cookies["tz"] = "Asia/Tokyo"
    tokyo = client.get(url, **HTMX).text
    assert "JST" in tokyo and "JST" not in read and len(store._cache) == 7
