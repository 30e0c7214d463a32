# ruff: noqa: E402, S608 — Django is set up before the project imports; the SQL is built from constants.
"""Benchmark the report pages over a large, generated history on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reports_benchmark \\
        .venv/bin/python scripts/benchmark_reports.py [--conversations 1000000] [--reuse]
        [--rebuild-rollup | --live | --compare]

Creates (or, with --reuse, keeps) a year of data in the database DATABASE_URL names, which must be a
PostgreSQL database of its own: its customers, messages and conversations are replaced. Rows are made by
INSERT ... SELECT over generate_series in one transaction, respecting every constraint (no overlapping
conversations, consistent directions and voided rows). Then the daily rollup is brought up to date as
`manage.py rollup_reports` does (after new data: a backfill of the whole year, timed), and each report
page is rendered through the Django test client as a supervisor and as an agent, for the last 30 days
and for the whole year, and the timings are printed. Not a test: the figures go in the README.

--rebuild-rollup empties the rollup and backfills it again (to time the backfill); --live empties it
and measures the pages with every day counted live, as they were before the rollup; --compare measures
nothing: it reads every table of every page with the rollup and then counted live, at the same instant,
and exits 1 if any differs.

Volume for N conversations: N/5 customers in ten countries (1 % known only by a business-scoped user
id and a username), 20 agents, and about 2.6 messages per conversation: every conversation's opening
message; a customer message before 60 % of them (the windows agents answer), a follow-up customer
message and a reply on half of them, a later unanswered customer message on 10 % (lost windows); 0.1 %
voided. Our messages carry the platform's per-message pricing as its statuses would (free inside the
window until 2026-09-30 for replies and utility templates, free inside free-entry points), except those
of the last hour (no pricing yet), 5 % of utility templates charged as marketing and 0.1 % of replies
charged although free for us (differences the cost page lists).
"""

from __future__ import annotations

import argparse
import difflib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from django.utils import timezone

from reports.models import ROLLUP_TABLES, RollupDay
from templates_app.models import MessageTemplate

AGENTS = 20
COUNTRIES = [
    ("1", "US"),
    ("44", "GB"),
    ("49", "DE"),
    ("55", "BR"),
    ("91", "IN"),
    ("234", "NG"),
    ("971", "AE"),
    ("65", "SG"),
    ("52", "MX"),
    ("34", "ES"),
]


def _pricing(*, category: str, pricing_type: str, priced: str) -> str:
    """The pricing columns of a generated message (pricing_model, pricing_category, pricing_type, billable,
    pricing): SQL expressions; none while `priced` is false."""
    return f"""
        CASE WHEN {priced} THEN 'PMP' ELSE '' END,
        CASE WHEN {priced} THEN {category} ELSE '' END,
        CASE WHEN {priced} THEN {pricing_type} ELSE '' END,
        CASE WHEN {priced} THEN {pricing_type} = 'regular' END,
        CASE WHEN {priced} THEN json_build_object('pricing_model', 'PMP', 'category', {category},
                                                  'type', {pricing_type},
                                                  'billable', {pricing_type} = 'regular') END"""


def generate(conversations: int) -> None:
    n = conversations
    customers = max(1, n // 5)
    agents = []
    for index in range(AGENTS):
        user, _ = User.objects.get_or_create(
            username=f"bench_agent{index}", defaults={"first_name": f"Agent {index}"}
        )
        user.groups.set([Group.objects.get(name="agents")])
        agents.append(user.pk)
    templates = {}
    for category in ("MARKETING", "UTILITY", "AUTHENTICATION"):
        templates[category], _ = MessageTemplate.objects.get_or_create(
            name=f"bench_{category.lower()}",
            language="en_US",
            defaults={
                "category": category,
                "status": "APPROVED",
                "parameter_format": "POSITIONAL",
                "components": [{"type": "BODY", "text": "Hello"}],
            },
        )
    agent_array = "ARRAY[" + ",".join(str(a) for a in agents) + "]"
    prefixes = "ARRAY[" + ",".join(f"'{p}'" for p, _ in COUNTRIES) + "]"
    codes = "ARRAY[" + ",".join(f"'{c}'" for _, c in COUNTRIES) + "]"
    # Conversation i belongs to customer i % C, in the customer's slot i / C of the year (73 days each,
    # so no two conversations of one customer ever overlap); category by i % 20.
    conversation_fields = f"""
        i, i % {customers} AS c, i / {customers} AS k,
        CASE WHEN i % 20 < 5 THEN 'marketing' WHEN i % 20 < 9 THEN 'utility'
             WHEN i % 20 < 11 THEN 'authentication' WHEN i % 20 < 18 THEN 'service'
             ELSE 'free_entry_point' END AS category,
        date_trunc('hour', now()) - interval '365 days'
            + (i / {customers}) * interval '73 days'
            + ((i::bigint * 2654435761) % 5961600) * interval '1 second'
            AS opened_at
    """
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE conversations_conversationdiscrepancy, conversations_message, "
            "conversations_conversation, conversations_customer RESTART IDENTITY CASCADE"
        )
        empty_rollup(cursor)  # the old history's figures
        # One customer in a hundred has no phone number: a business-scoped user id and a username.
        cursor.execute(f"""
            INSERT INTO conversations_customer (id, wa_id, user_id, parent_user_id, username, name,
                                                phone_e164, country, last_activity_at, assigned_to_id,
                                                created_at, search_name, last_turn_direction,
                                                platform_read_wamid)
            SELECT c + 1,
                   CASE WHEN c % 100 <> 99 THEN ({prefixes})[1 + c % 10] || lpad(c::text, 10, '0') END,
                   CASE WHEN c % 100 = 99 THEN ({codes})[1 + c % 10] || '.' || lpad(c::text, 19, '0') END,
                   '', CASE WHEN c % 100 = 99 THEN '@customer' || c ELSE '' END, 'Customer ' || c,
                   CASE WHEN c % 100 <> 99 THEN '+' || ({prefixes})[1 + c % 10] || lpad(c::text, 10, '0')
                        ELSE '' END,
                   ({codes})[1 + c % 10], now(),
                   CASE WHEN c % 10 < 7 THEN ({agent_array})[1 + (c / 10) % {AGENTS}] END, now(),
                   'customer ' || c, '', ''
            FROM generate_series(0, {customers - 1}) AS c""")
        cursor.execute(f"""
            INSERT INTO conversations_conversation (id, customer_id, category, opened_at, expires_at,
                closed_at, status, status_changed_at, voided_at, platform_id, opening_message_id)
            SELECT i + 1, c + 1, category, opened_at,
                   opened_at + CASE WHEN category = 'free_entry_point' THEN interval '72 hours'
                                    ELSE interval '24 hours' END,
                   CASE WHEN i % 997 = 0 THEN opened_at END,
                   CASE WHEN i % 997 = 0 THEN 'voided' WHEN opened_at + interval '72 hours' <= now()
                        THEN 'expired' ELSE 'open' END,
                   opened_at, CASE WHEN i % 997 = 0 THEN opened_at + interval '1 minute' END, '', i + 1
            FROM (SELECT {conversation_fields} FROM generate_series(0, {n - 1}) AS i) AS g""")
        # Statuses of the few conversations of the last three days that have expired already.
        cursor.execute(
            "UPDATE conversations_conversation SET status = 'expired' "
            "WHERE status = 'open' AND expires_at <= now()"
        )
        message_columns = """(id, customer_id, direction, kind, wa_type, body, template_id, template_category,
            occurred_at, created_at, status, error_text, send_attempts, agent_id, conversation_id,
            context_wamid, pricing_model, pricing_category, pricing_type, billable, pricing)"""
        # What the platform charged: free inside the window until the rules changed (business time zone).
        charged_from = f"('2026-10-01'::timestamp AT TIME ZONE '{settings.BUSINESS_TIME_ZONE}')"
        in_window_type = f"CASE WHEN {{at}} < {charged_from} THEN 'free_customer_service' ELSE 'regular' END"
        opening_pricing = _pricing(
            category="""CASE WHEN category = 'free_entry_point' THEN 'referral_conversion'
                             WHEN category = 'utility' AND i % 50 = 5 THEN 'marketing'
                             ELSE category END""",
            pricing_type=f"""CASE WHEN category = 'free_entry_point' THEN 'free_entry_point'
                                  WHEN category = 'service' THEN {in_window_type.format(at="opened_at")}
                                  WHEN category = 'utility' AND i % 3 = 0 AND i % 50 <> 5
                                       THEN {in_window_type.format(at="opened_at")}
                                  ELSE 'regular' END""",
            priced="(i % 997 <> 0 AND opened_at < now() - interval '1 hour')",
        )
        template_id = (
            f"CASE category WHEN 'marketing' THEN {templates['MARKETING'].pk} WHEN 'utility' "
            f"THEN {templates['UTILITY'].pk} WHEN 'authentication' THEN {templates['AUTHENTICATION'].pk} END"
        )
        # The opening message of every conversation (failed for the voided ones).
        cursor.execute(f"""
            INSERT INTO conversations_message {message_columns}
            SELECT i + 1, c + 1, 'outbound',
                   CASE WHEN category IN ('service', 'free_entry_point') THEN 'free_form' ELSE 'template' END,
                   'text', 'Hello', {template_id},
                   CASE WHEN category IN ('service', 'free_entry_point') THEN '' ELSE upper(category) END,
                   opened_at, opened_at, CASE WHEN i % 997 = 0 THEN 'failed' ELSE 'delivered' END, '', 1,
                   ({agent_array})[1 + (c + k) % {AGENTS}], i + 1, '', {opening_pricing}
            FROM (SELECT {conversation_fields} FROM generate_series(0, {n - 1}) AS i) AS g""")
        inbound = """'inbound', 'free_form', 'text', 'Hi', NULL, '', {at}, {at}, 'received', '', 0,
                      NULL, NULL, '', '', '', '', NULL, NULL"""
        # A customer message 5-115 minutes before the reply that opened service, free-entry-point and a
        # third of the other conversations.
        at = "opened_at - ((i % 110) + 5) * interval '1 minute'"
        cursor.execute(f"""
            INSERT INTO conversations_message {message_columns}
            SELECT {n} + i + 1, c + 1, {inbound.format(at=at)}
            FROM (SELECT {conversation_fields} FROM generate_series(0, {n - 1}) AS i) AS g
            WHERE category IN ('service', 'free_entry_point') OR i % 3 = 0""")
        # Half of them: the customer writes again two hours later, and on half of those an agent replies.
        at = "opened_at + interval '2 hours'"
        cursor.execute(f"""
            INSERT INTO conversations_message {message_columns}
            SELECT {2 * n} + i + 1, c + 1, {inbound.format(at=at)}
            FROM (SELECT {conversation_fields} FROM generate_series(0, {n - 1}) AS i) AS g WHERE i % 2 = 0""")
        reply_at = "opened_at + interval '2 hours' + ((i % 50) + 1) * interval '1 minute'"
        reply_pricing = _pricing(
            category="CASE WHEN category = 'free_entry_point' THEN 'referral_conversion' ELSE 'service' END",
            pricing_type=f"""CASE WHEN category = 'free_entry_point' THEN 'free_entry_point'
                                  WHEN i % 1000 = 8 THEN 'regular'
                                  ELSE {in_window_type.format(at=reply_at)} END""",
            priced=f"({reply_at} < now() - interval '1 hour')",
        )
        cursor.execute(f"""
            INSERT INTO conversations_message {message_columns}
            SELECT {3 * n} + i + 1, c + 1, 'outbound', 'free_form', 'text', 'Sure', NULL, '',
                   {reply_at}, opened_at + interval '2 hours', 'read', '', 1,
                   ({agent_array})[1 + (c + k) % {AGENTS}], i + 1, '', {reply_pricing}
            FROM (SELECT {conversation_fields} FROM generate_series(0, {n - 1}) AS i) AS g
            WHERE i % 4 = 0 AND i % 997 <> 0""")
        # One in ten: the customer writes again 20 days later and nobody answers (a lost window).
        at = "opened_at + interval '20 days'"
        cursor.execute(f"""
            INSERT INTO conversations_message {message_columns}
            SELECT {4 * n} + i + 1, c + 1, {inbound.format(at=at)}
            FROM (SELECT {conversation_fields} FROM generate_series(0, {n - 1}) AS i) AS g
            WHERE i % 10 = 5 AND opened_at + interval '20 days' < now()""")
        cursor.execute("""
            UPDATE conversations_customer cu SET last_inbound_at = m.latest, last_activity_at = m.latest
            FROM (SELECT customer_id, MAX(occurred_at) AS latest FROM conversations_message
                  WHERE direction = 'inbound' GROUP BY customer_id) m WHERE m.customer_id = cu.id""")
        for table in ("conversations_customer", "conversations_conversation", "conversations_message"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"generated in {time.perf_counter() - started:.1f} s")


def empty_rollup(cursor) -> None:
    tables = ", ".join(model._meta.db_table for model in (*ROLLUP_TABLES, RollupDay))
    cursor.execute(f"TRUNCATE {tables}")


def bring_rollup_up_to_date() -> None:
    started = time.perf_counter()
    call_command("rollup_reports", stdout=sys.stdout)
    print(f"rollup_reports took {time.perf_counter() - started:.1f} s")


def counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        result = {}
        for table in ("conversations_customer", "conversations_conversation", "conversations_message"):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            result[table.removeprefix("conversations_")] = cursor.fetchone()[0]
    return result


def measure(client: Client, url: str, params: dict, runs: int) -> tuple[float, float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, params, HTTP_HOST="localhost")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return timings[0], statistics.median(timings)


def tables_as_csv(cases) -> dict[tuple[str, str, str], str]:
    """Every table of every page, as its CSV, per case."""
    result = {}
    for who, user, label, params in cases:
        client = Client()
        client.force_login(user)
        for page in ("conversations", "windows", "costs"):
            response = client.get(reverse(f"reports:{page}"), params, HTTP_HOST="localhost")
            assert response.status_code == 200, response.status_code
            for slug, table in response.context["report"].tables.items():
                result[(f"{who}, {label}", page, slug)] = table.csv()
    return result


def compare_rollup_with_live(cases) -> int:
    """The pages' tables read with the rollup, then counted live (the rollup emptied inside a
    transaction that is rolled back): the differences found."""
    with time_machine.travel(timezone.now(), tick=False):  # both readings at the same instant
        rolled_up = tables_as_csv(cases)
        with transaction.atomic():
            with connection.cursor() as cursor:
                empty_rollup(cursor)
            live = tables_as_csv(cases)
            transaction.set_rollback(True)
    differences = [key for key in rolled_up if rolled_up[key] != live.get(key)]
    for key in differences:
        print("differs:", *key)
        diff = difflib.unified_diff(live[key].splitlines(True), rolled_up[key].splitlines(True))
        sys.stdout.writelines(diff)
    print(f"compared {len(rolled_up)} tables, rolled up against live: {len(differences)} differ")
    return len(differences)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data already generated")
    parser.add_argument("--runs", type=int, default=3)
    rollup = parser.add_mutually_exclusive_group()
    rollup.add_argument("--rebuild-rollup", action="store_true", help="empty the rollup, backfill it again")
    rollup.add_argument("--live", action="store_true", help="empty the rollup: every day counted live")
    rollup.add_argument(
        "--compare", action="store_true", help="check every table reads the same from the rollup and live"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://…/a_database_of_its_own")
    settings.ALLOWED_HOSTS = ["localhost"]
    call_command("migrate", verbosity=0)
    call_command("loaddata", "sample_rates", verbosity=0)
    if not args.reuse or counts()["conversation"] == 0:
        generate(args.conversations)
    print("rows:", counts())
    if args.rebuild_rollup or args.live:
        with transaction.atomic(), connection.cursor() as cursor:
            empty_rollup(cursor)
    if not args.live:
        bring_rollup_up_to_date()
    print("rollup:", "none, every day counted live" if args.live else f"{RollupDay.objects.count()} days")

    supervisor, _ = User.objects.get_or_create(username="bench_supervisor")
    supervisor.groups.set([Group.objects.get(name="supervisors")])
    agent = User.objects.get(username="bench_agent0")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date((now() - interval '365 days') AT TIME ZONE %s), date(now() AT TIME ZONE %s)",
            [settings.BUSINESS_TIME_ZONE, settings.BUSINESS_TIME_ZONE],
        )
        first, last = cursor.fetchone()
    year = {"range": "custom", "start": first.isoformat(), "end": last.isoformat()}
    cases = [
        ("supervisor", supervisor, "last 30 days", {"range": "30d"}),
        ("supervisor", supervisor, "whole year (all conversations)", year),
        ("agent", agent, "last 30 days", {"range": "30d"}),
        ("agent", agent, "whole year", year),
    ]
    if args.compare:
        setup_test_environment()  # responses carry their context
        sys.exit(1 if compare_rollup_with_live(cases) else 0)
    print(f"\n{'page':<16}{'who':<12}{'period':<34}{'first (s)':>10}{'median (s)':>12}")
    for page in ("conversations", "windows", "costs"):
        for who, user, label, params in cases:
            client = Client()
            client.force_login(user)
            first_run, median = measure(client, reverse(f"reports:{page}"), params, args.runs)
            print(f"{page:<16}{who:<12}{label:<34}{first_run:>10.2f}{median:>12.2f}")


if __name__ == "__main__":
    main()
