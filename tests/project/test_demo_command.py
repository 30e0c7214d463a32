"""The README's first command, `./dev demo`, run as a user would: embedded defaults only (SQLite and
kombu's filesystem broker under a fresh VAR_DIR, no PostgreSQL or Redis), demo data, web server, and a
Celery worker with beat that expires a due conversation."""

import http.cookiejar
import os
import re
import sqlite3
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from tests.processes import free_port, started, stop, wait_until


def fetch(opener, url, data=None):
    try:
        with opener.open(url, data=data, timeout=5) as response:
            return response.status, response.read().decode()
    except OSError:
        return None, ""


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}}
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(port), CONVERSATION_SWEEP_SECONDS="2")
    log = tmp_path / "demo.log"
    process = started(["./dev", "demo"], env, log, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", tmp_path / "var", log, process
    finally:
        stop(process, group=True)


def test_dev_demo_runs_web_worker_and_beat_with_demo_data(demo):
    base, var, log, process = demo
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    wait_until(lambda: fetch(opener, f"{base}/healthz")[0] == 200, 180, "the web server did not answer", log)
    assert process.poll() is None
    output = log.read_text()
    assert "Demo ready" in output and "admin-demo" in output

    # The documented admin credentials work.
    status, page = fetch(opener, f"{base}/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": "admin", "password": "admin-demo", "next": "/admin/"}
    ).encode()
    status, page = fetch(opener, f"{base}/admin/login/?next=/admin/", data=form)
    assert status == 200 and "Log out" in page, page[:2000]

    # The worker and beat run on the filesystem broker: a conversation that reaches expires_at is swept.
    db = sqlite3.connect(var / "db.sqlite3", timeout=20)
    now = datetime.now(UTC)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    with db:
        customer_id = db.execute(
            "SELECT id FROM conversations_customer WHERE wa_id = '4915112345678'"
        ).fetchone()[0]
        db.execute(
            "INSERT INTO conversations_conversation (customer_id, category, opened_at, expires_at, status, "
            "platform_id) VALUES (?, 'marketing', ?, ?, 'open', '')",
            (
                customer_id,
                (now - timedelta(hours=24)).strftime(fmt),
                (now + timedelta(seconds=2)).strftime(fmt),
            ),
        )

    def swept():
        row = db.execute(
            "SELECT status FROM conversations_conversation WHERE customer_id = ? AND category = 'marketing'",
            (customer_id,),
        ).fetchone()
        return row[0] == "expired"

    wait_until(swept, 60, "the conversation was not marked expired by the worker", var / "celery.log")
    db.close()
