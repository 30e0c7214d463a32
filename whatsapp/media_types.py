"""What a customer's file may be, decided from its bytes: the platform's media types we keep, per kind of
message, recognised by their first bytes ("magic numbers"), and the platform's size limits.

The type the platform (or the customer's phone) announced is never trusted alone: a file that says
`image/png` and holds HTML or SVG would run script in our origin if served as what it says. The type we
store and serve is what the bytes are, from an allow-list; anything else is refused. Pure Python (an
import contract says so): no Django, no libmagic.
"""

from __future__ import annotations

MB = 1024 * 1024

# The platform's limits by message type (whatsapp-cloud-api.md, "Messages beyond text"); an animated
# sticker may be 500 KB, a still one 100 KB: the larger bound is checked here.
SIZE_LIMITS = {
    "image": 5 * MB,
    "video": 16 * MB,
    "audio": 16 * MB,
    "document": 100 * MB,
    "sticker": 500 * 1024,
}

OFFICE_ZIP_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
OFFICE_OLE_TYPES = frozenset(
    {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
)

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
AUDIO_TYPES = frozenset({"audio/ogg", "audio/mpeg", "audio/aac", "audio/mp4", "audio/amr"})
VIDEO_TYPES = frozenset({"video/mp4", "video/3gpp"})
DOCUMENT_TYPES = frozenset({"application/pdf", "text/plain", *OFFICE_ZIP_TYPES, *OFFICE_OLE_TYPES})

# What each kind of message may hold. A document may also be a photo or a recording sent "as a file".
ALLOWED = {
    "image": IMAGE_TYPES,
    "sticker": frozenset({"image/webp", "image/png"}),
    "audio": AUDIO_TYPES,
    "video": VIDEO_TYPES,
    "document": DOCUMENT_TYPES | IMAGE_TYPES | AUDIO_TYPES | VIDEO_TYPES,
}

# Shown in the page (an <img>, a player); anything else is offered as a download only.
INLINE_TYPES = IMAGE_TYPES | AUDIO_TYPES | VIDEO_TYPES

SNIFF_BYTES = 4096  # enough of the start of a file to tell what it is

_MARKUP = (b"<!doctype", b"<html", b"<svg", b"<script", b"<?xml", b"<body", b"<head", b"<iframe", b"<!--")


class Refused(ValueError):
    """The file must not be kept; the message is in plain words, for the agent."""


def sniff(kind: str, head: bytes, announced: str = "") -> str:
    """The content type of a file of message type `kind` that starts with `head`, from the allow-list;
    raises Refused for anything else (markup posing as an image, a type we do not keep)."""
    allowed = ALLOWED.get(kind)
    if allowed is None:
        raise Refused(f"A {kind} message carries no file we keep.")
    announced = announced.split(";")[0].strip().lower()
    found = _by_magic(head, kind, announced)
    if found is None and _is_plain_text(head):
        found = "text/plain"
    if found is None:
        what = f" (it was announced as {announced})" if announced else ""
        raise Refused(f"The file is not a type we can keep safely{what}.")
    if found not in allowed:
        raise Refused(f"The file is {found}, which a {kind} message may not carry.")
    return found


def _by_magic(head: bytes, kind: str, announced: str) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head[4:8] == b"ftyp":
        return _iso_media(head[8:12], kind)
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF0 == 0xF0 and head[1] & 0x06 == 0:
        return "audio/aac"  # an ADTS frame (layer bits 00)
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # an MPEG audio frame
    if head.startswith(b"PK\x03\x04") and announced in OFFICE_ZIP_TYPES:
        return announced  # an Office Open XML container: which one, its announced type says
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") and announced in OFFICE_OLE_TYPES:
        return announced
    return None


def _iso_media(brand: bytes, kind: str) -> str:
    """An ISO base media file (MP4, M4A, 3GP): its brand and the message type tell which."""
    if brand.startswith(b"3g"):
        return "video/3gpp"
    if brand in (b"M4A ", b"M4B ") or kind == "audio":
        return "audio/mp4"
    return "video/mp4"


def _is_plain_text(head: bytes) -> bool:
    """Text, and not markup: a page or an SVG kept as "text" would be one click from our origin."""
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not a character cut at the end of the sniffed bytes
            return False
        text = head[: error.start].decode("utf-8")
    start = text.lstrip("\ufeff \t\r\n").lower().encode()
    return not start.startswith(_MARKUP)


def is_inline(content_type: str) -> bool:
    """Whether the page may show the file (an image, a player) rather than offer it as a download."""
    return content_type in INLINE_TYPES
