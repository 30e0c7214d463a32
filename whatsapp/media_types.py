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


# --- Files agents send (issue 14) -----------------------------------------------------------------------
# What the platform takes from us, by message type (whatsapp-cloud-api.md, "Messages beyond text"): photos
# are JPEG or PNG (a WebP is a sticker there, so it goes as a document), recordings and videos as above,
# and a document may be any file type we keep. The type is what the bytes are (`sniff`), never the name.
OUTBOUND_KINDS = ("image", "video", "audio", "document")
OUTBOUND_IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
KIND_NOUNS = {"image": "photo", "video": "video", "audio": "recording", "document": "document"}


def outbound_kind(content_type: str) -> str:
    """The message type a file of `content_type` (from `sniff`) is sent as."""
    if content_type in OUTBOUND_IMAGE_TYPES:
        return "image"
    if content_type in VIDEO_TYPES:
        return "video"
    if content_type in AUDIO_TYPES:
        return "audio"
    return "document"


def check_outbound(head: bytes, size: int, *, announced: str = "") -> tuple[str, str]:
    """(message type, content type) of a file an agent sends, decided from its first bytes and its size;
    raises Refused, in plain words, for a file the platform would not take or we would not keep (markup
    posing as a picture among them). `announced`: what the browser said it is (only tells Office files
    apart, whose bytes are all one kind of container)."""
    if size <= 0:
        raise Refused("The file is empty.")
    content_type = sniff("document", head, announced)
    kind = outbound_kind(content_type)
    limit = SIZE_LIMITS[kind]
    if size > limit:
        raise Refused(
            f"The {KIND_NOUNS[kind]} is {size / MB:.1f} MB; WhatsApp takes a {KIND_NOUNS[kind]} of at most "
            f"{limit // MB} MB. Choose a smaller file."
        )
    return kind, content_type


def outbound_limits() -> dict:
    """The limits above for the browser (the compose area mirrors them): each type we send, by MIME type,
    as its message type and size limit; and the file name extensions a file picker offers."""
    types = {
        content_type: [outbound_kind(content_type), SIZE_LIMITS[outbound_kind(content_type)]]
        for content_type in sorted(DOCUMENT_TYPES | IMAGE_TYPES | AUDIO_TYPES | VIDEO_TYPES)
    }
    return {"types": types, "extensions": OUTBOUND_EXTENSIONS}


# What a file picker offers, and what the browser checks a file without a known type by.
OUTBOUND_EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".3gp": "video/3gpp",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".aac": "audio/aac",
    ".m4a": "audio/mp4",
    ".amr": "audio/amr",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
