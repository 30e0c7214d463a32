"""Error tracking (config.error_tracking): Sentry is started by the settings only when SENTRY_DSN is set,
with the Django and Celery integrations and without personal data. Each case imports the settings in a
fresh interpreter, as a process starting in production would; the DSN points at a local stand-in for
Sentry that records what it is sent."""

import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Starts Django with the settings, then reports what the SDK was given and sends one message.
REPORT_SENTRY = """
import json, django, sentry_sdk
django.setup()
client = sentry_sdk.get_client()
options = client.options if client.is_active() else {}
print(json.dumps({
    "active": client.is_active(),
    "environment": options.get("environment"),
    "release": options.get("release"),
    "send_default_pii": options.get("send_default_pii"),
    "traces_sample_rate": options.get("traces_sample_rate"),
    "integrations": sorted(client.integrations) if client.is_active() else [],
}))
sentry_sdk.capture_message("error tracking test")
sentry_sdk.flush(timeout=5)
"""


class StandInSentry(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in_sentry():
    received: list[bytes] = []
    handler = type("Handler", (StandInSentry,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/42", received
    server.shutdown()
    server.server_close()


def started_sentry(tmp_path, **environment) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", REPORT_SENTRY],
        env={
            "PATH": os.environ["PATH"],
            "VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **environment,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_a_dsn_nothing_is_started_or_sent(tmp_path, stand_in_sentry):
    _, received = stand_in_sentry
    assert started_sentry(tmp_path)["active"] is False
    assert started_sentry(tmp_path, SENTRY_DSN="")["active"] is False
    assert received == []


def test_with_a_dsn_errors_are_reported_without_personal_data(tmp_path, stand_in_sentry):
    dsn, received = stand_in_sentry
    started = started_sentry(
        tmp_path,
        SENTRY_DSN=dsn,
        SENTRY_ENVIRONMENT="staging",
        SENTRY_RELEASE="8db7351",
        SENTRY_TRACES_SAMPLE_RATE="0.25",
    )
    assert started["active"] is True
    assert (started["environment"], started["release"]) == ("staging", "8db7351")
    assert started["traces_sample_rate"] == 0.25
    assert started["send_default_pii"] is False
    assert {"django", "celery"} <= set(started["integrations"])
    [envelope] = received
    event = json.loads(envelope.splitlines()[-1])
    assert event["message"] == "error tracking test"
    assert (event["environment"], event["release"]) == ("staging", "8db7351")


def test_the_defaults_file_errors_under_production_with_no_tracing(tmp_path, stand_in_sentry):
    dsn, _ = stand_in_sentry
    started = started_sentry(tmp_path, SENTRY_DSN=dsn)
    # (Without SENTRY_RELEASE the SDK names the release itself, from a git checkout if there is one.)
    assert (started["environment"], started["traces_sample_rate"]) == ("production", 0.0)
    assert started["send_default_pii"] is False
