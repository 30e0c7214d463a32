"""How the project connects to PostgreSQL."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.db.backends.postgresql.base import DatabaseWrapper

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_postgresql_connections_run_without_jit():
    # JIT compiled the reports' grouped queries for 1.7 s before running them in milliseconds
    # (README, Reports benchmark): the settings turn it off per connection.
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_a_database_that_does_not_answer_fails_the_connection_within_the_connect_timeout():
    """A network partition must not hold a request past gunicorn's 30 s worker timeout: a server that
    accepts the TCP connection and then says nothing (a listening socket that is never read) is given up
    on after DATABASE_CONNECT_TIMEOUT seconds (5 by default; 1 here)."""
    assert connection.settings_dict["OPTIONS"]["connect_timeout"] == 5
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings_dict = {
            **connection.settings_dict,
            "HOST": "127.0.0.1",
            "PORT": silent.getsockname()[1],
            "OPTIONS": {**connection.settings_dict["OPTIONS"], "connect_timeout": 1},
        }
        unreachable = DatabaseWrapper(settings_dict, alias="silent")
        started = time.monotonic()
        with pytest.raises(OperationalError):
            unreachable.ensure_connection()
        assert time.monotonic() - started < 10


def test_the_connect_timeout_comes_from_the_environment(tmp_path):
    def connect_timeout(**environment) -> str:
        return subprocess.run(
            [sys.executable, "-c", PRINT_CONNECT_TIMEOUT],
            env={"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), **environment},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    postgres = "postgres://u:p@db.example:5432/app"
    assert connect_timeout(DATABASE_URL=postgres) == "5"
    assert connect_timeout(DATABASE_URL=postgres, DATABASE_CONNECT_TIMEOUT="2") == "2"
    assert connect_timeout() == "None"  # SQLite: a local file, nothing to wait for


ROOT = Path(__file__).resolve().parents[2]
PRINT_CONNECT_TIMEOUT = (
    "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
    "from django.conf import settings; "
    "print(settings.DATABASES['default'].get('OPTIONS', {}).get('connect_timeout'))"
)
