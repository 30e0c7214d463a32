# ruff: noqa: E402, S603 — Django is set up first; the URLs are loopback, the command is our own gunicorn.
"""Benchmark the channel's writes at campaign scale on PostgreSQL, each beside the raw SQL of the same writes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_channel \\
        .venv/bin/python scripts/benchmark_channel.py [--customers 100000] [--messages 1000000] [--reuse]
        [--deliveries 1500] [--rounds 3] [--sweep 100000] [--sends 500] [--only webhook,sweep,send]

The database DATABASE_URL names must be a PostgreSQL database of its own: it is filled (or, with --reuse,
kept) with the inbox benchmark's volume (scripts/benchmark_inbox.py: N customers, M messages). Then, in
rounds that alternate our code with the raw SQL of the same writes (the machines are shared and noisy:
the ratio is the figure, not the times; each side starts after a CHECKPOINT, and which side goes first
alternates from round to round):

1. **Webhook ingest** during a campaign: a utility template went to the customers; the platform reports
   each message sent (with its per-message pricing), delivered and read, and one customer in ten
   replies. Each event is its own signed delivery, POSTed by 4 client threads to gunicorn with 2 sync
   workers (as in the Dockerfile) until every delivery is answered and processed into rows. The raw side
   does the same writes from 2 connections, one transaction per delivery: store the delivery, then
   for a status one UPDATE of the message, for a reply an UPDATE … RETURNING of the customer and an
   INSERT … ON CONFLICT of the message.
2. **The expiry sweep** of S due conversations (`expire_due_conversations`) against one raw UPDATE of the
   same rows; each run starts from the same state (the rows reset and vacuumed, untimed).
3. **send_text** of K replies inside open windows against the raw transaction of its writes (lock the
   customer, find the open conversation or open one, insert the message, move the customer's activity).

Not a test: the figures go in the README.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # a send's task costs no broker round trip here

import django

django.setup()

import benchmark_inbox
import psycopg
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection

from conversations import services
from conversations.models import Customer
from templates_app.models import MessageTemplate
from whatsapp.signature import sign

PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"
WABA_ID = "102290129340398"
CLIENT_THREADS = 4
RAW_CONNECTIONS = 2  # as many as gunicorn's workers
PRICING = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}


# --- the campaign's deliveries ----------------------------------------------------------------------


def _delivery(value_key: str, items: list[dict], contacts: list[dict] | None = None) -> dict:
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
    }
    if contacts is not None:
        value["contacts"] = contacts
    value[value_key] = items
    change = {"field": "messages", "value": value}
    return {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [change]}]}


def campaign(label: str, size: int, sent_at: datetime) -> list[tuple[str, dict]]:
    """Send `size` campaign messages (as rows, the way the send task leaves them) and return the platform's
    deliveries about them, in the order it sends them: (kind, delivery)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, wa_id FROM conversations_customer WHERE wa_id IS NOT NULL ORDER BY random() LIMIT %s",
            [size],
        )
        recipients = cursor.fetchall()
        template = MessageTemplate.objects.get(name="bench_update").pk
        cursor.executemany(
            "INSERT INTO conversations_message (customer_id, direction, kind, wa_type, body, template_id,"
            " template_category, occurred_at, created_at, status, error_text, send_attempts, context_wamid,"
            " pricing_model, pricing_category, pricing_type, wamid) VALUES (%s, 'outbound', 'template',"
            " 'template', 'Your order has shipped.', %s, 'UTILITY', %s, %s, 'sent', '', 1, '', '', '', '',"
            " %s)",
            [
                (cid, template, sent_at, sent_at, f"wamid.{label}.{i}")
                for i, (cid, _) in enumerate(recipients)
            ],
        )
    unix = int(sent_at.timestamp())
    deliveries = []
    for step, state in enumerate(("sent", "delivered", "read")):
        for i, (_, wa_id) in enumerate(recipients):
            status = {"id": f"wamid.{label}.{i}", "status": state, "timestamp": str(unix + 5 + step * 30),
                      "recipient_id": wa_id}  # fmt: skip
            if state == "sent":
                status["pricing"] = PRICING
            deliveries.append(("status", _delivery("statuses", [status])))
        if state == "delivered":  # one in ten answers once the message arrived
            for i, (_, wa_id) in enumerate(recipients[::10]):
                message = {"from": wa_id, "id": f"wamid.{label}.reply.{i}", "timestamp": str(unix + 60),
                           "type": "text", "text": {"body": "Thanks! When will it arrive?"}}  # fmt: skip
                contact = {"profile": {"name": "Sofía Núñez"}, "wa_id": wa_id}
                deliveries.append(("reply", _delivery("messages", [message], [contact])))
    return deliveries


# --- our side: gunicorn as in production --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(port: int, static_root: str) -> subprocess.Popen:
    """gunicorn as the production image runs it: static files collected (WhiteNoise serves them from its
    index, not by asking the finders on every request), DEBUG off, the access log on, 2 sync workers."""
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "DJANGO_STATIC_ROOT": static_root,
        "DJANGO_MANIFEST_STATIC": "true",
    }
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
                   cwd=ROOT, env=env, check=True)  # fmt: skip
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning",
         "--access-logfile", "-"],  # as the image: a line per request on stdout (here thrown away)
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def post_all(port: int, deliveries: list[tuple[str, dict]]) -> float:
    """POST every delivery (signed) from CLIENT_THREADS threads, one connection each, as the platform
    does; wall time until the last is answered.

    The client stands in for the platform's servers, which do not run on our machine, yet here it shares
    the two cores with gunicorn and PostgreSQL. So each request is written beforehand, byte for byte as
    an HTTP/1.1 client sends it (signature, Content-Length, `Connection: close`), and the client only
    sends it and reads the answer to its end: ~0.05 ms of CPU a request, where http.client took ~0.4 ms
    (parsing the answer's headers) and urllib more."""
    requests = []
    for _, data in deliveries:
        body = json.dumps(data).encode()
        signature = sign(body, settings.WHATSAPP_APP_SECRET)
        head = (
            f"POST /webhooks/whatsapp/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Hub-Signature-256: {signature}\r\nConnection: close\r\n\r\n"
        )
        requests.append(head.encode() + body)
    work: queue.Queue = queue.Queue()
    for request in requests:
        work.put(request)
    failures: list[str] = []

    def worker():
        while True:
            try:
                request = work.get_nowait()
            except queue.Empty:
                return
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
                    client.sendall(request)
                    answer = b""
                    while chunk := client.recv(65536):
                        answer += chunk
            except OSError as error:
                failures.append(str(error))
                continue
            if not answer.startswith(b"HTTP/1.1 200 "):
                failures.append(answer[:200].decode(errors="replace"))

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} deliveries were not accepted, e.g. {failures[:3]}")
    return elapsed


def wait_processed() -> float:
    """Seconds until no delivery is waiting (a large one may be processed by a worker, not inline)."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM whatsapp_webhookdelivery WHERE status IN ('pending', 'processing')"
            )
            if cursor.fetchone()[0] == 0:
                return time.perf_counter() - started
            time.sleep(0.05)


# --- the raw side: the same writes, one transaction per delivery ----------------------------------------

STORE = (
    "INSERT INTO whatsapp_webhookdelivery (received_at, body, signature, size, status, attempts, error,"
    " summary, processed_at) VALUES (now(), %s, %s, %s, 'processed', 0, '', '{}', now())"
)
STATUS = (
    "UPDATE conversations_message SET status = %s, status_changed_at = %s,"
    " sent_at = CASE WHEN %s = 'sent' THEN %s ELSE sent_at END,"
    " delivered_at = CASE WHEN %s = 'delivered' THEN %s ELSE delivered_at END,"
    " read_at = CASE WHEN %s = 'read' THEN %s ELSE read_at END,"
    " pricing = COALESCE(%s::jsonb, pricing), pricing_model = COALESCE(%s, pricing_model),"
    " pricing_category = COALESCE(%s, pricing_category), pricing_type = COALESCE(%s, pricing_type),"
    " billable = COALESCE(%s, billable) WHERE wamid = %s"
)
CUSTOMER = (
    "UPDATE conversations_customer SET name = %s, last_inbound_at = GREATEST(last_inbound_at, %s),"
    " last_activity_at = GREATEST(last_activity_at, %s), last_turn_at = %s, last_turn_direction = 'inbound'"
    " WHERE wa_id = %s RETURNING id"
)
MESSAGE = (
    "INSERT INTO conversations_message (customer_id, direction, kind, wa_type, body, occurred_at,"
    " platform_timestamp, created_at, status, error_text, send_attempts, context_wamid, pricing_model,"
    " pricing_category, pricing_type, template_category, wamid) VALUES (%s, 'inbound', 'free_form', 'text',"
    " %s, %s, %s, now(), 'received', '', 0, '', '', '', '', '', %s) ON CONFLICT (wamid) DO NOTHING"
)


def raw_apply(cursor, body: bytes, data: dict) -> None:
    value = data["entry"][0]["changes"][0]["value"]
    cursor.execute(STORE, [body, sign(body, settings.WHATSAPP_APP_SECRET), len(body)])
    for item in value.get("statuses", []):
        at = datetime.fromtimestamp(int(item["timestamp"]), UTC)
        pricing = item.get("pricing") or {}
        state = item["status"]
        cursor.execute(STATUS, [state, at, state, at, state, at, state, at,
                                json.dumps(pricing) if pricing else None, pricing.get("pricing_model"),
                                pricing.get("category"), pricing.get("type"), pricing.get("billable"),
                                item["id"]])  # fmt: skip
    for item in value.get("messages", []):
        at = datetime.fromtimestamp(int(item["timestamp"]), UTC)
        name = value["contacts"][0]["profile"]["name"]
        cursor.execute(CUSTOMER, [name, at, at, at, item["from"]])
        (customer_id,) = cursor.fetchone()
        cursor.execute(MESSAGE, [customer_id, item["text"]["body"], at, at, item["id"]])


def raw_all(deliveries: list[tuple[str, dict]]) -> float:
    work: queue.Queue = queue.Queue()
    for _, data in deliveries:
        work.put((json.dumps(data).encode(), data))
    dsn = _dsn()
    errors: list[Exception] = []

    def worker():
        with psycopg.connect(dsn) as raw:
            while True:
                try:
                    body, data = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    with raw.transaction(), raw.cursor() as cursor:
                        raw_apply(cursor, body, data)
                except psycopg.Error as error:
                    errors.append(error)
                    return

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(RAW_CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"the raw SQL failed: {errors[0]}")
    return time.perf_counter() - started


def _dsn() -> str:
    db = settings.DATABASES["default"]
    return f"host={db['HOST']} port={db['PORT'] or 5432} dbname={db['NAME']} user={db['USER']}" + (
        f" password={db['PASSWORD']}" if db["PASSWORD"] else ""
    )


def bench_webhook(per_round: int, rounds: int) -> None:
    size = max(1, per_round * 10 // 31)  # 3 statuses per message, a reply for one in ten: ~3.1 deliveries
    port = free_port()
    static_root = tempfile.mkdtemp(prefix="benchmark-static-")
    server = start_gunicorn(port, static_root)
    ours, raw = [], []
    try:
        for number in range(rounds):
            sent_at = datetime.now(UTC) - timedelta(minutes=10)
            mine = campaign(f"app{number}.{time.time_ns()}", size, sent_at)
            theirs = campaign(f"raw{number}.{time.time_ns()}", size, sent_at)

            def run_ours(mine=mine):
                settle()
                ours.append(len(mine) / (post_all(port, mine) + wait_processed()))

            def run_raw(theirs=theirs):
                settle()
                raw.append(len(theirs) / raw_all(theirs))

            in_turn(number, run_ours, run_raw)
            print(f"  round {number + 1}: ours {ours[-1]:7.1f} deliveries/s   raw {raw[-1]:7.1f}/s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        shutil.rmtree(static_root, ignore_errors=True)
    _report("webhook ingest (deliveries/s, higher is better)", ours, raw, higher_is_better=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM whatsapp_webhookdelivery GROUP BY status ORDER BY 1")
        print("  deliveries by status:", dict(cursor.fetchall()))


# --- the sweep ------------------------------------------------------------------------------------------


def make_due(count: int, now: datetime) -> list[int]:
    """`count` conversations open and due at `now` (reset between runs, then vacuumed: untimed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE conversations_conversation SET status = 'open', status_changed_at = opened_at,"
            " expires_at = %s - interval '1 minute', opened_at = %s - interval '25 hours'"
            " WHERE id IN (SELECT id FROM conversations_conversation ORDER BY id LIMIT %s) RETURNING id",
            [now, now, count],
        )
        ids = [row[0] for row in cursor.fetchall()]
    with psycopg.connect(_dsn(), autocommit=True) as raw:
        raw.execute("VACUUM ANALYZE conversations_conversation")
    settle()
    return ids


def bench_sweep(count: int, rounds: int) -> None:
    ours, raw = [], []
    for number in range(rounds):
        now = datetime.now(UTC)

        def run_ours(now=now):
            make_due(count, now)
            started = time.perf_counter()
            expired = services.expire_due_conversations(now=now)
            ours.append(time.perf_counter() - started)
            assert expired >= count, (expired, count)

        def run_raw(now=now):
            make_due(count, now)
            started = time.perf_counter()
            with psycopg.connect(_dsn()) as connection_, connection_.transaction():
                connection_.execute(
                    "UPDATE conversations_conversation SET status = 'expired', status_changed_at = %s"
                    " WHERE status = 'open' AND expires_at <= %s",
                    [now, now],
                )
            raw.append(time.perf_counter() - started)

        in_turn(number, run_ours, run_raw)
        print(f"  run: ours {ours[-1]:6.2f} s   raw UPDATE {raw[-1]:6.2f} s")
    _report(f"sweep of {count:,} due conversations (s, lower is better)", ours, raw, higher_is_better=False)


# --- send_text ------------------------------------------------------------------------------------------

RAW_SEND = [
    "SELECT id, last_inbound_at FROM conversations_customer WHERE id = %(customer)s FOR UPDATE",
    "SELECT id FROM conversations_conversation WHERE customer_id = %(customer)s AND status = 'open'"
    " AND expires_at > %(now)s ORDER BY opened_at DESC LIMIT 1",
    "INSERT INTO conversations_message (customer_id, direction, kind, wa_type, body, occurred_at, created_at,"
    " status, status_changed_at, error_text, send_attempts, context_wamid, pricing_model, pricing_category,"
    " pricing_type, template_category, agent_id, conversation_id)"
    " VALUES (%(customer)s, 'outbound', 'free_form', 'text', %(body)s, %(now)s, %(now)s, 'queued',"
    " %(now)s, '', 0, '', '', '', '', '', %(agent)s, %(conversation)s) RETURNING id",
    "UPDATE conversations_customer SET last_activity_at = GREATEST(last_activity_at, %(now)s),"
    " last_turn_at = %(now)s, last_turn_direction = 'outbound' WHERE id = %(customer)s",
]


def open_windows(count: int) -> list[int]:
    """`count` customers who wrote an hour ago, each with an open service conversation (untimed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id FROM conversations_customer c"
            " JOIN conversations_conversation v ON v.customer_id = c.id"
            " WHERE v.category = 'service' ORDER BY random() LIMIT %s",
            [count],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "UPDATE conversations_customer SET last_inbound_at = now() - interval '1 hour',"
            " last_activity_at = now() - interval '1 hour' WHERE id = ANY(%s)",
            [ids],
        )
        cursor.execute(
            "UPDATE conversations_conversation SET status = 'open', opened_at = now() - interval '2 hours',"
            " expires_at = now() + interval '22 hours' WHERE customer_id = ANY(%s) AND category = 'service'",
            [ids],
        )
    return ids


def bench_send(count: int, rounds: int) -> None:
    agent = User.objects.get(username="bench_agent0")
    # Untimed: one send first, as a web worker that has served before has its broker connection (Celery's
    # first dispatch in a process costs ~60 ms) and its statements prepared.
    for customer in Customer.objects.filter(pk__in=open_windows(1)):
        services.send_text(customer=customer, body="Warming up.", agent=agent)
    ours, raw = [], []
    for number in range(rounds):
        mine, theirs = open_windows(count), open_windows(count)
        customers = list(Customer.objects.filter(pk__in=mine))

        def run_ours(customers=customers):
            settle()
            started = time.perf_counter()
            for customer in customers:
                services.send_text(customer=customer, body="Your parcel leaves today.", agent=agent)
            ours.append((time.perf_counter() - started) / count * 1000)

        def run_raw(theirs=theirs):
            settle()
            started = time.perf_counter()
            with psycopg.connect(_dsn()) as raw_connection:
                for customer_id in theirs:
                    with raw_connection.transaction(), raw_connection.cursor() as cursor:
                        now = datetime.now(UTC)
                        params = {"customer": customer_id, "now": now, "body": "Your parcel leaves today.",
                                  "agent": agent.pk, "conversation": None}  # fmt: skip
                        cursor.execute(RAW_SEND[0], params)
                        cursor.execute(RAW_SEND[1], params)
                        params["conversation"] = cursor.fetchone()[0]
                        cursor.execute(RAW_SEND[2], params)
                        cursor.execute(RAW_SEND[3], params)
            raw.append((time.perf_counter() - started) / count * 1000)

        in_turn(number, run_ours, run_raw)
        print(f"  run: ours {ours[-1]:6.2f} ms/send   raw {raw[-1]:6.2f} ms/send")
    _report("send_text (ms per send, lower is better)", ours, raw, higher_is_better=False)


# --- fairness -------------------------------------------------------------------------------------------


def in_turn(number: int, ours, raw) -> None:
    """Run both sides of a round, ours first in even rounds and the raw SQL first in odd ones: whatever
    the machine does after the first (a checkpoint of its writes, autovacuum) falls on each side alike.
    The share of CPU time the host took back from this virtual machine (steal) is noted for each side."""
    for name, side in (("ours", ours), ("raw", raw)) if number % 2 == 0 else (("raw", raw), ("ours", ours)):
        before = _cpu_times()
        side()
        STOLEN[name].append(_stolen(before, _cpu_times()))


STOLEN: dict[str, list[float]] = {"ours": [], "raw": []}


def _cpu_times() -> list[int] | None:
    """The machine's CPU times (Linux /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal)."""
    try:
        with open("/proc/stat") as stat:
            return [int(value) for value in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None


def _stolen(before: list[int] | None, after: list[int] | None) -> float:
    if before is None or after is None or len(after) < 8:
        return 0.0
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return spent[7] / max(1, sum(spent))


WRITTEN = (
    "conversations_message",
    "conversations_customer",
    "conversations_conversation",
    "whatsapp_webhookdelivery",
)


def settle() -> None:
    """Untimed, before each timed side: the tables the sides write are vacuumed (an earlier side's dead
    rows would otherwise call autovacuum into this side's time: 20 % of a million messages updated is its
    threshold), any autovacuum still running is waited for, and the dirty pages are written out
    (CHECKPOINT), so that a checkpoint the earlier side's writes call for does not land in this side's
    time. The CHECKPOINT is skipped without the right."""
    with psycopg.connect(_dsn(), autocommit=True) as raw:
        for table in WRITTEN:
            raw.execute(f"VACUUM {table}")
        deadline = time.monotonic() + 120
        while (
            time.monotonic() < deadline
            and raw.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            ).fetchone()[0]
        ):
            time.sleep(0.5)
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            raw.execute("CHECKPOINT")


# --- output ---------------------------------------------------------------------------------------------


def _report(what: str, ours: list[float], raw: list[float], *, higher_is_better: bool) -> None:
    """The medians of each side and their ratio, as the issue states its targets (a speed: ours / raw; a
    time: ours / raw, so lower is better), then each round's own ratio and their median (each round's
    two sides ran one after the other, so their ratio shares the machine's mood of the moment)."""
    mine, theirs = statistics.median(ours), statistics.median(raw)
    rounds = [m / t for m, t in zip(ours, raw, strict=True)]
    kind = "speed" if higher_is_better else "time"
    print(
        f"{what}: ours {mine:.2f}, raw {theirs:.2f} -> ours at {mine / theirs:.2f}x the raw SQL's {kind}"
        f" (rounds: {', '.join(f'{r:.2f}' for r in rounds)}; their median {statistics.median(rounds):.2f}x)"
    )
    # A virtual machine whose host is busy loses CPU time to it (steal): a CPU-bound side (ours: HTTP and
    # Python) loses more than one that waits on commits (the raw SQL), so the ratio is then unreliable.
    stolen = {side: max(shares, default=0.0) for side, shares in STOLEN.items()}
    ours_stolen, raw_stolen = stolen["ours"], stolen["raw"]
    print(f"  CPU taken back by the host (steal), worst round: ours {ours_stolen:.0%}, raw {raw_stolen:.0%}")
    if max(stolen.values()) > 0.05:
        print("  WARNING: the host took over 5% of the CPU: a fair ratio needs a quieter machine")
    for shares in STOLEN.values():
        shares.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data of an earlier run")
    parser.add_argument("--deliveries", type=int, default=1500, help="webhook deliveries per side and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sweep", type=int, default=100_000, help="due conversations per sweep")
    parser.add_argument("--sends", type=int, default=500, help="send_text calls per side and round")
    parser.add_argument("--only", default="webhook,sweep,send")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("set DATABASE_URL to a PostgreSQL database of its own")
    if not args.reuse:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        benchmark_inbox.generate(args.customers, args.messages)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM conversations_customer")
        customers = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM conversations_message")
        messages = cursor.fetchone()[0]
    print(f"{customers:,} customers, {messages:,} messages; {os.cpu_count()} CPUs")
    parts = set(args.only.split(","))
    if "webhook" in parts:
        bench_webhook(args.deliveries, args.rounds)
    if "sweep" in parts:
        bench_sweep(min(args.sweep, customers), args.rounds)
    if "send" in parts:
        bench_send(args.sends, args.rounds)


if __name__ == "__main__":
    main()
