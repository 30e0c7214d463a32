"""The README's first command, `./dev demo`, run as a user would: embedded defaults only (SQLite and
kombu's filesystem broker under a fresh VAR_DIR, no PostgreSQL or Redis), demo data, web server, and a
Celery worker with beat that expires a due conversation."""

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import sqlite3
import subprocess
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.processes import ROOT, free_port, started, stop, wait_until


def fetch(opener, url, data=None):
    try:
        with opener.open(url, data=data, timeout=5) as response:
            return response.status, response.read().decode()
    except OSError:
        return None, ""


def demo_env(var: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}}
    env.update(VAR_DIR=str(var), PORT=str(port), CONVERSATION_SWEEP_SECONDS="2", WORKER_HEARTBEAT_SECONDS="2")
    return env


def processes_with(*words: str) -> list[int]:
    """The pids of the processes whose command line has all of `words` among its arguments."""
    wanted = {word.encode() for word in words}
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if wanted <= set(cmdline.read_bytes().split(b"\0")):
                found.append(int(cmdline.parent.name))
    return sorted(found)


def celery_of(var: Path) -> list[int]:
    """The demo's Celery processes (worker, pool, beat): their schedule file is under its VAR_DIR."""
    return processes_with(f"--schedule={var}/celerybeat-schedule")


def celery_worker_of(var: Path) -> int | None:
    """The demo's Celery worker: the one of its Celery processes whose parent is not one of them."""
    pids = celery_of(var)
    workers = [pid for pid in pids if parent_of(pid) not in pids]
    return workers[0] if len(workers) == 1 else None


def web_server_of(port: int) -> list[int]:
    """`manage.py runserver` on `port`: the autoreloader, then the server it runs."""
    return processes_with("runserver", f"127.0.0.1:{port}")


def parent_of(pid: int) -> int:
    # /proc/<pid>/stat is "pid (comm) state ppid …", and comm may hold spaces.
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    log = tmp_path / "demo.log"
    process = started(["./dev", "demo"], demo_env(tmp_path / "var", port), log, start_new_session=True)
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

    # A worker that exits is started again (issue 13: the demo's worker once died for good, unnoticed),
    # and what it left behind (its pool, beat) goes with it.
    wait_until(lambda: len(celery_of(var)) > 1, 60, "Celery did not start its pool", log)
    first = celery_worker_of(var)
    left_behind = set(celery_of(var)) - {first}
    os.kill(first, signal.SIGKILL)
    wait_until(
        lambda: celery_worker_of(var) not in {None, first} and len(celery_of(var)) > 1,
        60,
        "the worker was not started again",
        log,
    )
    assert "The Celery worker exited (status 137); starting it again in 1 s" in log.read_text()
    assert not left_behind & set(celery_of(var))

    # The monitors' check sees the new worker run the beat schedule.
    def worker_beats():
        status, body = fetch(opener, f"{base}/healthz/deep")
        return status is not None and '"worker": {"status": "ok"' in body

    wait_until(worker_beats, 60, "/healthz/deep did not report the worker ok", var / "celery.log")

    # The (new) worker and beat run on the filesystem broker: a conversation that reaches expires_at is
    # swept.
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

    # Ctrl+C in the terminal (SIGINT to the whole process group) stops the web server and Celery.
    assert celery_of(var)
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(40) == 130
    assert celery_of(var) == [] and web_server_of(int(base.rsplit(":", 1)[1])) == []


def test_dev_demo_says_at_once_when_its_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            ["./dev", "demo"],
            cwd=ROOT,
            env=demo_env(tmp_path / "var", port),
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: port {port} is already in use on 127.0.0.1 (another ./dev demo, or another server?). "
        "Stop it, or choose another port: PORT=8001 ./dev demo\n"
    )
    assert not (tmp_path / "var").exists()  # nothing migrated, no worker started


@pytest.mark.parametrize("ending", ["SIGTERM to the script", "the web server exits on its own"])
def test_dev_demo_stops_celery_however_it_ends(tmp_path, ending):
    port, var, log = free_port(), tmp_path / "var", tmp_path / "demo.log"
    process = started(["./dev", "demo"], demo_env(var, port), log, start_new_session=True)
    try:
        wait_until(lambda: "Press Ctrl+C" in log.read_text() and listening(port), 180, "no demo", log)
        wait_until(lambda: len(celery_of(var)) > 1, 30, "Celery did not start its pool", log)
        if ending == "SIGTERM to the script":
            process.terminate()  # `kill <pid>`: only the script gets it
            assert process.wait(40) == 143
        else:
            pids = web_server_of(port)
            [server] = [pid for pid in pids if parent_of(pid) in pids]  # the autoreloader's child
            os.kill(server, signal.SIGKILL)
            assert process.wait(40) != 0
            assert "The web server stopped" in log.read_text()
        assert celery_of(var) == [] and web_server_of(port) == [] and not listening(port)
    finally:
        stop(process, group=True)
