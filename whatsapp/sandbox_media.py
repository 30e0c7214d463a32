"""The sandbox's media store, and small real files made in code (a PNG photo, a PDF, an Ogg voice note).

The platform keeps a customer's file by media id until we fetch it; the sandbox keeps it in a folder
under VAR_DIR (`simulate_inbound` writes it in one process, the worker's fetch reads it in another), and
answers `GET /{media_id}` and the download like the platform (whatsapp.sandbox.SandboxClient). An agent's
upload is kept the same way, after the platform's checks (`check_upload`), and sent by its id.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from whatsapp import media_types

URL_SCHEME = "sandbox-media://"
_MEDIA_ID = re.compile(r"[0-9A-Za-z]{1,64}")


@dataclass(frozen=True)
class SandboxFile:
    media_id: str
    mime_type: str
    sha256: str
    size: int


def _folder() -> Path:
    folder = Path(settings.VAR_DIR) / "sandbox-media"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keep(content: bytes, mime_type: str) -> SandboxFile:
    """Keep a file as the platform would after a customer sent it: under a new media id."""
    media_id = f"{uuid.uuid4().int % 10**16:016d}"
    kept = SandboxFile(
        media_id=media_id,
        mime_type=mime_type,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )
    (_folder() / f"{media_id}.bin").write_bytes(content)
    (_folder() / f"{media_id}.json").write_text(json.dumps(kept.__dict__))
    return kept


def find(media_id: str) -> SandboxFile | None:
    if not _MEDIA_ID.fullmatch(media_id):
        return None
    facts = _folder() / f"{media_id}.json"
    return SandboxFile(**json.loads(facts.read_text())) if facts.exists() else None


def content(media_id: str) -> bytes | None:
    if not _MEDIA_ID.fullmatch(media_id):
        return None
    path = _folder() / f"{media_id}.bin"
    return path.read_bytes() if path.exists() else None


# --- Agents' files: uploads and sends by id, as the platform takes them ---------------------------------
# What POST /{PHONE_NUMBER_ID}/media takes, by MIME type: the platform's supported types and size limits
# (whatsapp-cloud-api.md, "Messages beyond text"; the channel checks the same before it uploads).
UPLOAD_LIMITS = {
    **dict.fromkeys(media_types.OUTBOUND_IMAGE_TYPES, media_types.SIZE_LIMITS["image"]),
    "image/webp": media_types.SIZE_LIMITS["sticker"],
    **dict.fromkeys(media_types.AUDIO_TYPES, media_types.SIZE_LIMITS["audio"]),
    **dict.fromkeys(media_types.VIDEO_TYPES, media_types.SIZE_LIMITS["video"]),
    **dict.fromkeys(media_types.DOCUMENT_TYPES, media_types.SIZE_LIMITS["document"]),
}
MEDIA_SEND_KEYS = {"image": {"id", "caption"}, "video": {"id", "caption"}, "audio": {"id"}}


def check_upload(content: bytes, mime_type: str) -> tuple[int, str] | None:
    """Why the platform would refuse this upload, as (error code, its title), or None when it takes it."""
    mime = mime_type.split(";")[0].strip().lower()
    limit = UPLOAD_LIMITS.get(mime)
    if limit is None:
        return (
            100,
            f"Param file must be a file with one of the following types: {', '.join(sorted(UPLOAD_LIMITS))}",
        )
    if not content:
        return 100, "Param file must be a non-empty file"
    if len(content) > limit:
        return 131053, f"Media upload error: the file is {len(content)} bytes; {mime} may be at most {limit}"
    return None


def check_media_send(payload: dict) -> tuple[int, str] | None:
    """Why the platform would refuse a photo, video, recording or document sent by media id (an id it
    never issued, a caption on a recording), or None; None too for any other kind of message."""
    kind = payload.get("type")
    if kind not in media_types.OUTBOUND_KINDS:
        return None
    media = payload.get(kind)
    if not isinstance(media, dict) or not isinstance(media.get("id"), str):
        return 100, f"Invalid parameter: a {kind} message needs the {kind} object with an id"
    allowed = MEDIA_SEND_KEYS.get(kind, {"id", "caption", "filename"})
    if set(media) - allowed:
        return 100, f"Invalid parameter: a {kind} takes only {', '.join(sorted(allowed))}"
    if find(media["id"]) is None:
        return 131053, "Media upload error: no media with this id was uploaded"
    return None


# --- Small real files ---------------------------------------------------------------------------------


def png(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (37, 99, 235)) -> bytes:
    """A PNG of one colour with a lighter diagonal band: a real image any browser shows."""
    light = tuple(min(255, c + 110) for c in rgb)
    rows = b"".join(
        b"\x00"
        + b"".join(bytes(light if abs(x * height - y * width) < width * 4 else rgb) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf(text: str = "Invoice 2026-114") -> bytes:
    """A one-page PDF that says `text` (ASCII)."""
    safe = re.sub(r"[^A-Za-z0-9 .,:#-]", "", text)[:80]
    stream = f"BT /F1 24 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def ogg(seconds: float = 2.0) -> bytes:
    """A voice note any browser plays: an Ogg Opus stream (RFC 7845) of `seconds` of silence, mono, in
    20 ms frames. Each frame is an Opus packet of its TOC byte alone (RFC 6716 3.2.1: a frame of no bytes,
    which a decoder plays as silence); the last page's granule position gives the player its duration."""
    pre_skip, frame_samples = 312, 960  # 20 ms at 48 kHz
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48000, 0, 0)
    vendor = b"support-inbox sandbox"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    toc = bytes([1 << 3])  # configuration 1: SILK narrowband, 20 ms; mono; one frame
    frames = max(1, round(seconds * 50))
    pages = [_ogg_page([head], granule=0, sequence=0, flags=0x02), _ogg_page([tags], granule=0, sequence=1)]
    for first in range(0, frames, 50):
        count = min(50, frames - first)
        flags = 0x04 if first + count == frames else 0  # the last page ends the stream
        granule = pre_skip + (first + count) * frame_samples
        pages.append(_ogg_page([toc] * count, granule=granule, sequence=len(pages), flags=flags))
    return b"".join(pages)


def _ogg_page(packets: list[bytes], *, granule: int, sequence: int, flags: int = 0) -> bytes:
    """One Ogg page (RFC 3533) holding whole packets, each under 255 bytes."""
    lacing = bytes(len(packet) for packet in packets)
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, 1, sequence, 0, len(packets)) + lacing
    body = b"".join(packets)
    checksum = _ogg_crc(header + body)
    return header[:22] + struct.pack("<I", checksum) + header[26:] + body


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc
