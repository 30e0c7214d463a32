# ruff: noqa: E402, S608 — Django is set up before the project imports; the SQL is built from constants.
"""Benchmark the agent inbox at 100,000 customers and 1,000,000 messages on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_inbox \\
        .venv/bin/python scripts/benchmark_inbox.py [--customers 100000] [--messages 1000000] [--reuse]
        [--runs 30]

Creates (or, with --reuse, keeps) the data in the database DATABASE_URL names, which must be a
PostgreSQL database of its own: its customers and messages are replaced. Rows are made by INSERT ...
SELECT over generate_series in one transaction, respecting every constraint. Then each inbox request is
made through the Django test client as a logged-in agent, alternating, in the same run, with the minimal
raw SQL the same work needs (the page's rows with their latest message, unread count and free-entry-point
state, and the filter counts; a thread's messages, reactions and quotes, window and conversation lines),
and the medians, 95th percentiles, their ratio and the queries each request ran are printed. Not a test:
the figures go in the README.

Volume: N customers in ten countries (1 % known only by a business-scoped user id and a username), names
with accents ("Sofía Núñez"), 20 agents, 70 % of customers assigned; M messages, about ten per
customer, and one customer with 5,000; the latest activity spread over 90 days so that about one
customer in ten has an open window, half of those waiting for a reply; 3 % reactions; one service or
free-entry-point conversation per customer; the agent has opened a third of the threads.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations.search import fold
from inbox.selectors import COUNT_LIMIT, PAGE_SIZE, THREAD_PAGE_SIZE
from templates_app.models import MessageTemplate

AGENTS = 20
BIG_THREAD = 5000
COUNTRIES = [  # calling code, region, the national part's first digits (a plausible mobile range)
    ("1", "US", "555"),
    ("44", "GB", "7700"),
    ("49", "DE", "151"),
    ("55", "BR", "1198"),
    ("91", "IN", "98"),
    ("234", "NG", "803"),
    ("971", "AE", "50"),
    ("65", "SG", "9"),
    ("52", "MX", "155"),
    ("34", "ES", "6"),
]
FIRST = ["Sofía", "José", "Zoë", "Björn", "François", "Łukasz", "Ana", "Mohammed", "Chloé", "Siobhán",
         "Jürgen", "Renée", "Ngozi", "Priya", "Wei", "Aarav", "Inés", "Søren", "Fatima", "Noël", "Émile",
         "Olga", "Kwame", "Yuki", "Zoltán", "Mateo", "Leïla", "Ciarán", "Dagný", "Thảo"]  # fmt: skip
LAST = ["Núñez", "García", "Müller", "Øster", "Smith", "Okafor", "Patel", "Dubois", "Kowalski", "Çelik",
        "Ibáñez", "Nguyễn", "O'Brien", "Schön", "Åberg", "Haddad", "Silva", "Jović", "Tanaka", "Brontë",
        "Fernández", "Kovač", "Lefèvre", "Mäkinen", "Popescu", "Rossi", "Sánchez", "Weiß", "Yılmaz",
        "Zapata", "Adeyemi", "Bjørk", "Costa", "Dvořák", "Eriksson", "Fischer", "Gómez", "Horváth",
        "Ivanova", "Jansen"]  # fmt: skip
BODIES = [
    "Hi, where is my order?", "¿Dónde está mi pedido?", "Merci beaucoup !", "Obrigado pela ajuda",
    "Can I change the delivery address?", "I would like a refund please", "The app says payment failed",
    "Thanks, that worked", "Is the shop open on Sunday?", "Can you send the invoice again?",
    "Danke schön, alles gut", "My package arrived damaged", "When will it be back in stock?",
    "How do I reset my password?", "Ok", "👍", "Perfect, thank you!", "Could you call me tomorrow?",
    "I never received the confirmation email", "What sizes do you have?",
    "Thanks for reaching out! Let me check that for you.", "Your order ships tomorrow.",
    "I have issued the refund; it takes 3-5 days.", "Here is the tracking link.",
    "Could you share your order number?", "You're welcome, have a nice day!",
]  # fmt: skip


def _array(values) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def generate(customers: int, messages: int) -> None:
    agents = []
    for index in range(AGENTS):
        user, _ = User.objects.get_or_create(
            username=f"bench_agent{index}", defaults={"first_name": f"Agent {index}"}
        )
        user.groups.set([Group.objects.get(name="agents")])
        agents.append(user.pk)
    template, _ = MessageTemplate.objects.get_or_create(
        name="bench_update",
        language="en_US",
        defaults={
            "category": "UTILITY",
            "status": "APPROVED",
            "parameter_format": "POSITIONAL",
            "components": [{"type": "BODY", "text": "Your order has shipped."}],
        },
    )
    n, big = customers, BIG_THREAD
    others = messages - big  # customer 1 has `big` messages, the others share the rest
    agent_array = "ARRAY[" + ",".join(str(a) for a in agents) + "]"
    codes, regions, ranges = (_array(col) for col in zip(*COUNTRIES, strict=True))
    first, last = _array(FIRST), _array(LAST)
    first_folded, last_folded = _array([fold(f) for f in FIRST]), _array([fold(x) for x in LAST])
    bodies = _array(BODIES)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE inbox_customerseen, conversations_conversationdiscrepancy, conversations_message, "
            "conversations_conversation, conversations_previousidentifier, conversations_customer "
            "RESTART IDENTITY CASCADE"
        )
        # Customer c (id c + 1): latest activity `age` before now, skewed towards recent (age = 90 days
        # x u², u uniform: ~10 % within a day). One in a hundred is known only by a BSUID and a username.
        cursor.execute(f"""
            CREATE TEMP TABLE bench_customer ON COMMIT DROP AS
            SELECT c, c % 10 AS country, c % 100 = 99 AS bsuid_only,
                   ({first})[1 + c % {len(FIRST)}] || ' ' || ({last})[1 + (c / {len(FIRST)}) % {len(LAST)}]
                       AS name,
                   ({first_folded})[1 + c % {len(FIRST)}] || ' '
                       || ({last_folded})[1 + (c / {len(FIRST)}) % {len(LAST)}] AS search_name,
                   date_trunc('second', now())
                       - interval '90 days' * power(((c::bigint * 2654435761) % 1000003) / 1000003.0, 2)
                       - interval '1 minute' AS latest
            FROM generate_series(0, {n - 1}) AS c""")
        cursor.execute(f"""
            INSERT INTO conversations_customer (id, wa_id, user_id, parent_user_id, username, name,
                search_name, phone_e164, country, last_activity_at, assigned_to_id, created_at,
                last_turn_direction, platform_read_wamid, status)
            SELECT c + 1,
                   CASE WHEN NOT bsuid_only THEN ({codes})[1 + country] || ({ranges})[1 + country]
                        || lpad(c::text, 7, '0') END,
                   CASE WHEN bsuid_only THEN ({regions})[1 + country] || '.' || lpad(c::text, 19, '0') END,
                   '', CASE WHEN bsuid_only THEN 'customer_' || c ELSE '' END, name,
                   search_name || CASE WHEN bsuid_only THEN ' customer_' || c ELSE '' END,
                   CASE WHEN NOT bsuid_only THEN '+' || ({codes})[1 + country] || ({ranges})[1 + country]
                        || lpad(c::text, 7, '0') ELSE '' END,
                   ({regions})[1 + country], latest,
                   CASE WHEN c % 10 < 7 THEN ({agent_array})[1 + (c / 10) % {AGENTS}] END,
                   latest - interval '120 days', '', '',
                   -- one thread in four was resolved by the team; the others are open
                   CASE WHEN c % 4 = 3 THEN 'resolved' ELSE 'open' END
            FROM bench_customer""")
        # Messages: customer 1 has `big`, message k of the others belongs to customer 2 + k % (n - 1).
        # The j-th latest message of a customer is j x 47 minutes before their latest activity; who
        # speaks alternates, starting with the customer on even customers (half the open windows wait
        # for a reply); one in 33 is a reaction, which is no turn.
        message = """
            SELECT cu.c + 1 AS customer_id, j,
                   CASE WHEN (cu.c + j) % 2 = 0 THEN 'inbound' ELSE 'outbound' END AS direction,
                   CASE WHEN j % 33 = 7 THEN 'reaction' ELSE 'text' END AS wa_type,
                   cu.latest - j * interval '47 minutes' AS occurred_at, k"""
        cursor.execute(f"""
            CREATE TEMP TABLE bench_message ON COMMIT DROP AS
            {message} FROM (SELECT k, 0 AS c, k AS j FROM generate_series(0, {big - 1}) AS k) AS g
                JOIN bench_customer cu ON cu.c = g.c
            UNION ALL
            {message} FROM (SELECT k, 1 + k % {n - 1} AS c, k / {n - 1} AS j
                            FROM generate_series(0, {others - 1}) AS k) AS g
                JOIN bench_customer cu ON cu.c = g.c""")
        cursor.execute(f"""
            INSERT INTO conversations_message (customer_id, direction, kind, wa_type, body, template_id,
                template_category, occurred_at, created_at, status, error_text, send_attempts, agent_id,
                context_wamid, pricing_model, pricing_category, pricing_type, wamid)
            SELECT customer_id, direction,
                   CASE WHEN direction = 'outbound' AND k % 20 = 3 THEN 'template' ELSE 'free_form' END,
                   wa_type,
                   CASE WHEN wa_type = 'reaction' THEN '❤️'
                        WHEN k = 4821 THEN 'My order A-48213 never arrived'
                        ELSE ({bodies})[1 + (k * 7 + j) % {len(BODIES)}] END,
                   CASE WHEN direction = 'outbound' AND k % 20 = 3 THEN {template.pk} END,
                   CASE WHEN direction = 'outbound' AND k % 20 = 3 THEN 'UTILITY' ELSE '' END,
                   occurred_at, occurred_at,
                   CASE WHEN direction = 'inbound' THEN 'received' ELSE 'read' END, '',
                   CASE WHEN direction = 'inbound' THEN 0 ELSE 1 END,
                   CASE WHEN direction = 'outbound' THEN ({agent_array})[1 + customer_id % {AGENTS}] END,
                   CASE WHEN wa_type = 'reaction' THEN 'wamid.bench.' || customer_id || '.' || (j + 1)
                        ELSE '' END,
                   '', '', '', 'wamid.bench.' || customer_id || '.' || j
            FROM bench_message""")
        # What the services keep on the customer: latest activity, latest customer message, latest turn.
        cursor.execute("""
            UPDATE conversations_customer cu SET last_activity_at = m.latest, last_inbound_at = m.inbound,
                last_turn_at = t.occurred_at, last_turn_direction = t.direction
            FROM (SELECT customer_id, MAX(occurred_at) AS latest,
                         MAX(occurred_at) FILTER (WHERE direction = 'inbound') AS inbound
                  FROM bench_message GROUP BY customer_id) m,
                 (SELECT DISTINCT ON (customer_id) customer_id, occurred_at, direction FROM bench_message
                  WHERE wa_type <> 'reaction' ORDER BY customer_id, occurred_at DESC, j) t
            WHERE m.customer_id = cu.id AND t.customer_id = cu.id""")
        # One conversation per customer, opened by their latest message of ours: service, or free-entry
        # point for one in twenty.
        cursor.execute("""
            INSERT INTO conversations_conversation (customer_id, category, opened_at, expires_at, status,
                status_changed_at, platform_id)
            SELECT customer_id, CASE WHEN customer_id % 20 = 0 THEN 'free_entry_point' ELSE 'service' END,
                   occurred_at, occurred_at + CASE WHEN customer_id % 20 = 0 THEN interval '72 hours'
                                                   ELSE interval '24 hours' END,
                   'open', occurred_at, ''
            FROM (SELECT DISTINCT ON (customer_id) customer_id, occurred_at FROM bench_message
                  WHERE direction = 'outbound' ORDER BY customer_id, occurred_at DESC) o""")
        cursor.execute("UPDATE conversations_conversation SET status = 'expired' WHERE expires_at <= now()")
        # The benchmark's agent opened a third of the threads two hours before the latest activity.
        cursor.execute(f"""
            INSERT INTO inbox_customerseen (agent_id, customer_id, seen_at)
            SELECT {agents[0]}, c + 1, latest - interval '2 hours' FROM bench_customer WHERE c % 3 = 0""")
        for table in ("conversations_customer", "conversations_conversation", "conversations_message"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"generated in {time.perf_counter() - started:.1f} s")


def counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        result = {}
        for table in ("conversations_customer", "conversations_message", "conversations_conversation"):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            result[table.removeprefix("conversations_")] = cursor.fetchone()[0]
    return result


# --- The raw SQL each request needs ----------------------------------------------------------------

# A page of the list: the customers, each with their latest message, this agent's unread count and the
# free-entry-point state, in one keyset query.
RAW_ROWS = f"""
SELECT c.*, u.username, lm.body, lm.direction, lm.wa_type, ur.n, fep.open, fep_used.used
FROM conversations_customer c
LEFT JOIN auth_user u ON u.id = c.assigned_to_id
LEFT JOIN inbox_customerseen s ON s.customer_id = c.id AND s.agent_id = %(agent)s
LEFT JOIN LATERAL (SELECT body, direction, wa_type FROM conversations_message m WHERE m.customer_id = c.id
                   ORDER BY occurred_at DESC, id DESC LIMIT 1) lm ON true
LEFT JOIN LATERAL (SELECT COUNT(*) AS n FROM conversations_message m
                   WHERE m.customer_id = c.id AND m.direction = 'inbound'
                     AND m.occurred_at > COALESCE(s.seen_at, '-infinity')) ur ON true
LEFT JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM conversations_conversation v WHERE v.customer_id = c.id
                   AND v.category = 'free_entry_point' AND v.opened_at <= now() AND v.expires_at > now()
                   AND (v.closed_at IS NULL OR v.closed_at > now())) AS open) fep ON true
LEFT JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM conversations_conversation v WHERE v.customer_id = c.id
                   AND v.category = 'free_entry_point' AND v.opened_at >= c.fep_referral_at
                   AND v.status <> 'voided') AS used) fep_used ON true
WHERE {{where}}
ORDER BY c.last_activity_at DESC, c.id DESC LIMIT {PAGE_SIZE + 1}
"""
_OPEN_WINDOW = """last_inbound_at > now() - interval '24 hours' AND last_inbound_at <= now()
    AND (platform_window_closed_at IS NULL OR platform_window_closed_at < last_inbound_at
         OR platform_window_closed_at > now())"""
# The five filter counts, each counted up to the same limit as the page's.
RAW_COUNTS = "SELECT " + ", ".join(
    f"(SELECT COUNT(*) FROM (SELECT 1 FROM conversations_customer WHERE {where} LIMIT {COUNT_LIMIT + 1}) x)"
    for where in (
        f"{_OPEN_WINDOW} AND last_turn_direction = 'inbound'",
        f"{_OPEN_WINDOW} AND last_inbound_at <= now() - interval '23 hours'",
        "assigned_to_id = %(agent)s",
        "assigned_to_id IS NULL",
        "true",
    )
)
# A thread: its latest messages (or those since the poll's cursor), the reactions to them and what they
# quote, the customer's messages that opened windows around them, and the conversations then.
RAW_THREAD = [
    f"""SELECT m.*, a.username, t.name FROM conversations_message m
        LEFT JOIN auth_user a ON a.id = m.agent_id
        LEFT JOIN templates_app_messagetemplate t ON t.id = m.template_id
        WHERE m.customer_id = %(customer)s AND (m.occurred_at, m.id) >= (%(since_at)s, %(since_id)s)
        ORDER BY m.occurred_at DESC, m.id DESC LIMIT {THREAD_PAGE_SIZE + 1}""",
    """SELECT * FROM conversations_message WHERE customer_id = %(customer)s
        AND ((wa_type = 'reaction' AND context_wamid = ANY(%(wamids)s)) OR wamid = ANY(%(quoted)s))
        ORDER BY occurred_at, id""",
    """SELECT occurred_at FROM conversations_message WHERE customer_id = %(customer)s
        AND direction = 'inbound' AND occurred_at >= %(since_at)s - interval '24 hours'
        AND wa_type <> 'system'""",
    """SELECT * FROM conversations_conversation WHERE customer_id = %(customer)s AND opened_at <= now()
        AND (opened_at >= %(since_at)s OR expires_at >= %(since_at)s OR closed_at >= %(since_at)s)""",
]


def raw(statements, params) -> int:
    rows = 0
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params)
            rows += len(cursor.fetchall())
    return rows


def page_sql(where: str) -> list[str]:
    return [RAW_ROWS.format(where=where), RAW_COUNTS]


# --- Measuring ---------------------------------------------------------------------------------------


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run_case(client: Client, label: str, url: str, params: dict, statements, sql_params, runs: int) -> dict:
    app_times, raw_times, queries = [], [], set()
    expected = {200, 204}

    def request():
        response = client.get(url, params, HTTP_HOST="localhost")
        assert response.status_code in expected, (label, response.status_code)

    request()  # warm: the first request of a case pays for the template loader and the plan cache
    raw(statements, sql_params)
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            app_times.append(timed(request))
        queries.add(len(captured.captured_queries))
        raw_times.append(timed(lambda: raw(statements, sql_params)))
    app, sql = statistics.median(app_times), statistics.median(raw_times)
    return {
        "label": label,
        "app": app,
        "app95": p95(app_times),
        "raw": sql,
        "raw95": p95(raw_times),
        "ratio": app / sql,
        "queries": sorted(queries),
    }


def version_of(html: str) -> str:
    match = re.search(r'"v": "([0-9a-f]+)"', html)
    return match.group(1) if match else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data already generated")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://…/a_database_of_its_own")
    settings.ALLOWED_HOSTS = ["localhost"]
    call_command("migrate", verbosity=0)
    if not args.reuse or counts()["customer"] == 0:
        generate(args.customers, args.messages)
    print("rows:", counts())

    agent = User.objects.get(username="bench_agent0")
    client = Client()
    client.force_login(agent)
    with connection.cursor() as cursor:
        # A deep page: the keyset cursor 60 % of the way down the list.
        cursor.execute(
            "SELECT last_activity_at, id FROM conversations_customer "
            "ORDER BY last_activity_at DESC, id DESC OFFSET %s LIMIT 1",
            [int(args.customers * 0.6)],
        )
        deep_at, deep_id = cursor.fetchone()
        # Someone to find by phone: a Mexican number typed as written in Mexico, a British one in national
        # format (BUSINESS_COUNTRY=GB would read it so), a US one in national format.
        cursor.execute(
            "SELECT wa_id FROM conversations_customer WHERE wa_id LIKE '1555%%' ORDER BY id LIMIT 1"
        )
        (us_wa_id,) = cursor.fetchone()
    big = 1  # the customer with BIG_THREAD messages
    deep_cursor = f"{deep_at.isoformat()}|{deep_id}"
    national = f"({us_wa_id[1:4]}) {us_wa_id[4:7]}-{us_wa_id[7:]}"  # as typed in the US
    agent_params = {"agent": agent.pk}
    html = client.get(reverse("inbox:home"), HTTP_HOST="localhost").content.decode()
    # What the page's poll sends (static/inbox/inbox.js): the version it shows and its last row.
    list_version = re.search(r'data-version="([0-9a-f]+)"', html).group(1)
    through = unquote(re.findall(r'data-cursor="([^"]+)"', html)[-1])
    thread_url = reverse("inbox:thread", args=[big])
    html = client.get(reverse("inbox:customer", args=[big]), HTTP_HOST="localhost").content.decode()
    since = unquote(re.search(r"thread/\?since=([^\"&]+)", html).group(1))
    since_at, since_id = since.rsplit("|", 1)
    thread_version = version_of(
        client.get(thread_url, {"since": since}, HTTP_HOST="localhost").content.decode()
    )
    wamids = [f"wamid.bench.{big}.{j}" for j in range(THREAD_PAGE_SIZE)]
    thread_params = {
        "customer": big,
        "since_at": datetime.fromisoformat(since_at),
        "since_id": int(since_id),
        "wamids": wamids,
        "quoted": [],
    }

    def search_where(condition: str) -> list[str]:
        return page_sql(condition)

    home, list_url = reverse("inbox:home"), reverse("inbox:list")
    cases = [
        ("page 1 (/)", home, {}, page_sql("true"), agent_params),
        (
            "deep page (/list/?before=…, 60 % down)",
            list_url,
            {"before": deep_cursor},
            page_sql("(c.last_activity_at, c.id) < (%(at)s, %(id)s)"),
            {**agent_params, "at": deep_at, "id": deep_id},
        ),
        (
            "list poll (/list/?v=…&through=…)",
            list_url,
            {"v": list_version, "through": through},
            page_sql("true"),
            agent_params,
        ),
        (
            "needs reply (/list/?view=needs-reply)",
            list_url,
            {"view": "needs-reply", "v": "x"},
            page_sql(f"{_OPEN_WINDOW} AND last_turn_direction = 'inbound'"),
            agent_params,
        ),
        (
            "thread poll (?since=…&v=…, 5,000 messages)",
            thread_url,
            {"since": since, "v": thread_version},
            RAW_THREAD,
            thread_params,
        ),
        ("thread, 5,000 messages (latest 60)", thread_url, {}, RAW_THREAD, thread_params),
        (
            'search name "sofia nunez"',
            list_url,
            {"q": "sofia nunez", "v": "x"},
            search_where("c.search_name LIKE %(term)s"),
            {**agent_params, "term": "%sofia nunez%"},
        ),
        (
            f'search phone "{national}"',
            list_url,
            {"q": national, "v": "x"},
            search_where("c.wa_id LIKE %(term)s"),
            {**agent_params, "term": f"%{us_wa_id}%"},
        ),
        (
            'search text "refund"',
            list_url,
            {"q": "refund", "v": "x"},
            search_where(
                "EXISTS (SELECT 1 FROM conversations_message m WHERE m.customer_id = c.id "
                "AND upper(m.body) LIKE %(term)s)"
            ),
            {**agent_params, "term": "%REFUND%"},
        ),
        (
            'search text "A-48213" (one message)',
            list_url,
            {"q": "A-48213", "v": "x"},
            search_where(
                "c.id IN (SELECT m.customer_id FROM conversations_message m "
                "WHERE upper(m.body) LIKE %(term)s)"
            ),
            {**agent_params, "term": "%A-48213%"},
        ),
    ]
    print(f"\n{'request':<46}{'median ms':>10}{'p95':>8}{'raw SQL':>9}{'p95':>7}{'ratio':>7}  queries")
    results = []
    for label, url, params, statements, sql_params in cases:
        result = run_case(client, label, url, params, statements, sql_params, args.runs)
        results.append(result)
        print(
            f"{label:<46}{result['app']:>10.1f}{result['app95']:>8.1f}{result['raw']:>9.1f}"
            f"{result['raw95']:>7.1f}{result['ratio']:>6.1f}×  {','.join(map(str, result['queries']))}"
        )
    by_label = {r["label"]: r for r in results}
    deep, first = by_label["deep page (/list/?before=…, 60 % down)"], by_label["page 1 (/)"]
    misses = [r["label"] for r in results if r["app"] > 100 or r["ratio"] > 5 or len(r["queries"]) > 1]
    print(
        f"\ndeep page / page 1: {deep['app'] / first['app']:.2f}; "
        f"over target (median > 100 ms, > 5× raw, or a varying query count): {misses or 'none'}"
    )


if __name__ == "__main__":
    main()
