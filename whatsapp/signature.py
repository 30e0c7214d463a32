"""The webhook's `X-Hub-Signature-256` header: HMAC-SHA256 of the raw request body, keyed with the App Secret.

Pure Python (no Django). The signature covers the bytes exactly as sent: the platform escapes non-ASCII
as `\\uXXXX`, so JSON that was decoded and serialised again will not verify. Hash before parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import re

HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="
# 32 bytes of SHA-256 as hex. Upper case is accepted: it names the same bytes, and the comparison is
# over the decoded digest, so nothing about the secret leaks through the spelling.
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def _digest(body: bytes, secret: str) -> bytes:
    return hmac.digest(secret.encode("utf-8"), body, hashlib.sha256)  # one call into OpenSSL


def sign(body: bytes, secret: str) -> str:
    """The header value the platform would send with `body`: "sha256=<64 lowercase hex digits>"."""
    return PREFIX + _digest(body, secret).hex()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """True only if `header` is the signature of exactly these bytes under `secret`.

    Never raises: a missing, garbled or wrong header, a body that is not bytes, or an empty secret (which
    would make every signature forgeable) is simply False. The comparison takes constant time.
    """
    if not secret or not isinstance(secret, str):
        return False
    if not isinstance(body, bytes | bytearray | memoryview) or not isinstance(header, str):
        return False
    value = header.strip()
    if not value.startswith(PREFIX):
        return False
    hex_digest = value.removeprefix(PREFIX)
    if not _HEX_DIGEST.fullmatch(hex_digest):
        return False
    return hmac.compare_digest(_digest(bytes(body), secret), bytes.fromhex(hex_digest))
