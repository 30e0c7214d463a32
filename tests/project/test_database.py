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
    postgres = "postgres://u:p@db.example:5432/app"
    assert _option("connect_timeout", tmp_path, DATABASE_URL=postgres) == "5"
    assert _option("connect_timeout", tmp_path, DATABASE_URL=postgres, DATABASE_CONNECT_TIMEOUT="2") == "2"
    assert _option("connect_timeout", tmp_path) == "None"  # SQLite: a local file, nothing to wait for


def test_prepared_statements_are_on_unless_a_pooler_cannot_keep_them(tmp_path):
    """The hot paths' statements are prepared (conversations.prepared.cursor); behind a pooler in
    transaction mode DATABASE_PREPARED_STATEMENTS=false turns that off (psycopg's prepare_threshold None)."""
    postgres = "postgres://u:p@db.example:5432/app"
    assert _option("prepare_threshold", tmp_path, DATABASE_URL=postgres) == "5"
    assert (
        _option("prepare_threshold", tmp_path, DATABASE_URL=postgres, DATABASE_PREPARED_STATEMENTS="false")
        == "None"
    )


ROOT = Path(__file__).resolve().parents[2]


def _option(name: str, tmp_path, **environment) -> str:
    """The database OPTIONS entry `name` as the settings make it from `environment` (a fresh process)."""
    program = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; "
        f"print(settings.DATABASES['default'].get('OPTIONS', {{}}).get({name!r}))"
    )
    return subprocess.run(
        [sys.executable, "-c", program],
        env={"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), **environment},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
