"""Helpers for tests that run the project's real processes (web server, Celery worker and beat)."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def project_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a project process (worker, beat, web server) using the test database, which
    must be PostgreSQL (committed data, shared across processes), with its files under `tmp_path`;
    `settings` add or override variables (CELERY_BROKER_URL=…)."""
    from django.db import connection

    db = connection.settings_dict
    credentials = f"{db['USER']}:{db['PASSWORD'] or ''}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "VAR_DIR": str(tmp_path),
        **settings,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, seconds: float, what: str, log: Path) -> None:
    """Poll `predicate` until it is true; fail with the process output if `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds} s:\n{log.read_text()[-6000:]}")


def started(argv: list, environment: dict[str, str], log: Path, **popen) -> subprocess.Popen:
    """Start `argv` from the repository root with its output in `log`."""
    with log.open("w") as out:
        return subprocess.Popen(
            argv, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT, **popen
        )


def stop(process: subprocess.Popen, *, group: bool = False) -> None:
    """Stop gracefully (SIGTERM, or SIGINT to the whole process group), then kill if it hangs."""
    if group:
        _signal_group(process, signal.SIGINT)
    else:
        process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        if group:
            _signal_group(process, signal.SIGKILL)
        else:
            process.kill()
        process.wait(5)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
