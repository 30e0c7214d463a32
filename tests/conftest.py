"""Shared test setup.

Tests that need PostgreSQL or Redis carry the `postgres` / `redis` marker. Locally without the
service they skip with the reason shown in the summary (-ra); under CI=true they fail instead:
CI must never pass by skipping what it was meant to prove.
"""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() == "true"


def _per_worker(url: str) -> str:
    """Under pytest-xdist (`./dev test` runs the suite on several processes) each worker gets a Redis
    database of its own, so one worker's real Celery worker never takes another's tasks: gw0 keeps the
    configured database, gw1 the next one, and so on (modulo Redis's 16)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = int(worker.removeprefix("gw") or 0)
    parsed = urlparse(url)
    database = int(parsed.path.strip("/") or 0)
    return parsed._replace(path=f"/{(database + offset) % 16}").geturl()


TEST_REDIS_URL = _per_worker(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def _missing(item) -> str | None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        return f"needs PostgreSQL; this run uses {connection.vendor} (set DATABASE_URL=postgres://…)"
    if item.get_closest_marker("redis") and not _reachable(TEST_REDIS_URL):
        return f"needs Redis at {TEST_REDIS_URL} (set TEST_REDIS_URL)"
    return None


def pytest_runtest_setup(item):
    reason = _missing(item)
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true: {reason} — services the tests need must run in CI, never be skipped")
    pytest.skip(reason)


@pytest.fixture
def redis_url():
    return TEST_REDIS_URL


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Real hashers are deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def in_process_broker():
    """Tasks queued by the code under test go to an in-memory broker, never to the developer's
    var/ filesystem broker, where a `./dev demo` worker would pick them up. Tests that run a real worker
    give it (and the Celery app) a Redis broker of their own."""
    from config.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "memory://"
    yield
    app.conf.broker_url = previous


@pytest.fixture(autouse=True)
def media_storage(settings, tmp_path_factory):
    """Customers' files (conversations.MessageMedia) and the sandbox's kept uploads go to a fresh folder
    per test, never to the developer's var/. Returns the storage's folder."""
    folder = tmp_path_factory.mktemp("var")
    settings.VAR_DIR = folder
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder / "media")},
        },
    }
    return folder / "media"
