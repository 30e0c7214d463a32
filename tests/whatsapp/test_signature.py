"""`whatsapp/signature.py`: the X-Hub-Signature-256 header is HMAC-SHA256 of the raw body, keyed with the
App Secret; verification is constant-time and never raises."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tests.whatsapp.deliveries import encode, inbound_delivery, signed
from whatsapp.signature import sign, verify

SECRET = "app-secret-for-tests"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'
GOOD = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


def test_sign_is_hmac_sha256_of_the_bytes_as_lowercase_hex():
    assert sign(BODY, SECRET) == GOOD
    assert len(GOOD) == len("sha256=") + 64
    assert GOOD.removeprefix("sha256=") == GOOD.removeprefix("sha256=").lower()


ROWS = [
    # (id, body, header, secret, expected)
    ("good", BODY, GOOD, SECRET, True),
    ("good-with-surrounding-whitespace", BODY, f" {GOOD} ", SECRET, True),
    ("uppercase-hex-names-the-same-bytes", BODY, "sha256=" + GOOD[7:].upper(), SECRET, True),
    ("wrong-secret", BODY, GOOD, "another-secret", False),
    ("tampered-body", BODY.replace(b"[]", b"[{}]"), GOOD, SECRET, False),
    ("one-byte-appended", BODY + b"\n", GOOD, SECRET, False),
    ("missing-header", BODY, None, SECRET, False),
    ("empty-header", BODY, "", SECRET, False),
    ("no-prefix", BODY, GOOD.removeprefix("sha256="), SECRET, False),
    ("sha1-prefix", BODY, "sha1=" + GOOD[7:], SECRET, False),
    ("uppercase-prefix", BODY, "SHA256=" + GOOD[7:], SECRET, False),
    ("prefix-only", BODY, "sha256=", SECRET, False),
    ("truncated", BODY, GOOD[:-2], SECRET, False),
    ("one-digit-too-many", BODY, GOOD + "0", SECRET, False),
    ("non-hex", BODY, GOOD[:-1] + "g", SECRET, False),
    ("hex-with-inner-spaces", BODY, GOOD[:-2] + " " + GOOD[-2:], SECRET, False),
    ("non-ascii-header", BODY, GOOD[:-1] + "é", SECRET, False),
    ("empty-secret-even-if-signed-with-it", BODY, sign(BODY, ""), "", False),
    ("empty-body-good-signature", b"", sign(b"", SECRET), SECRET, True),
    ("bytearray-body", bytearray(BODY), GOOD, SECRET, True),
    ("str-body-is-not-bytes", BODY.decode(), GOOD, SECRET, False),
    ("header-not-a-string", BODY, GOOD.encode(), SECRET, False),
    ("secret-not-a-string", BODY, GOOD, None, False),
]


@pytest.mark.parametrize(
    ("body", "header", "secret", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_verify(body, header, secret, expected):
    assert verify(body, header, secret) is expected


def test_verify_compares_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert verify(BODY, GOOD, SECRET)
    assert not verify(BODY, "sha256=" + "0" * 64, SECRET)
    assert len(calls) == 2


def test_a_non_ascii_secret_is_keyed_as_utf8():
    secret = "sécret-🔑"
    header = "sha256=" + hmac.new(secret.encode("utf-8"), BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, secret) == header
    assert verify(BODY, header, secret)


# --- the signature covers the bytes as sent, with non-ASCII escaped -------------------------------


def test_non_ascii_text_is_signed_over_the_escaped_bytes_and_reserialised_json_fails():
    data = inbound_delivery("16505551234", "Olá 👋", timestamp="1750275992", wamid="wamid.HBgL1")
    body, header = signed(data, SECRET)

    assert b"Ol\\u00e1 \\ud83d\\udc4b" in body  # how the platform sends it
    assert body.isascii()
    assert verify(body, header, SECRET)

    decoded = json.loads(body)
    assert decoded["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "Olá 👋"
    reserialised = json.dumps(decoded, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert reserialised != body
    assert not verify(reserialised, header, SECRET)
    pretty = json.dumps(decoded).encode()  # ASCII again, but with the default separators
    assert not verify(pretty, header, SECRET)


def test_signed_and_encode_agree_with_sign():
    data = inbound_delivery("16505551234", "Hello", timestamp="1750275992", wamid="wamid.HBgL1")
    body, header = signed(data, SECRET)
    assert body == encode(data)
    assert header == sign(body, SECRET)
    assert body.startswith(b'{"object":"whatsapp_business_account","entry":[{')
