"""A real HTTP server on 127.0.0.1 standing in for the Graph API (WhatsApp Cloud API).

Anything that can reach a URL can use it: this process's `GraphClient`, a web server or a Celery worker
in another process (point WHATSAPP_API_BASE at `fake.url`). Requests are recorded here, in the test's
process, where the test reads them.

    with FakeGraph() as fake:
        fake.enqueue(status=400, body=graph_error(131047, "Re-engagement message"))
        ...                                   # the first request gets the error,
        fake.wait_for_requests(2)             # later ones the default success answer

Answers, in order of precedence:
1. `reply_with(fn)`: fn(request) returns a `Reply`, or None to fall through;
2. the queue of `enqueue(...)`d replies, one per request whatever its path;
3. the defaults: a read mark (POST …/messages with `"status": "read"`, with a typing indicator or
   without) → `{"success": true}` when in the documented shape (else 400); POST
   /{version}/{phone_number_id}/messages → 200 with a fresh `wamid.FAKE…` id in the documented success
   shape: echoing `to` with its `wa_id`, or, for a send
   addressed by business-scoped user id (`recipient`, no `to`), echoing it with `user_id` and no
   `wa_id`; `to` wins when both are given. GET /{version}/{waba_id}/message_templates → the pages
   given to `templates(...)`; POST /{version}/{phone_number_id}/media (multipart) → `{"id": …}` for a
   file of a type and size the platform takes (kept, listed in `uploads`), else its error; anything
   else → 404 with a Graph error body.

A business-scoped user id put into `to` is dropped silently by the real platform (the message never
arrives). The fake refuses it loudly instead, with a 400, and records it in `fake.misaddressed` so a
test can assert it never happens.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import policy as email_policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from whatsapp import media_types

# What the platform's POST /{PHONE_NUMBER_ID}/media takes, by MIME type, and up to what size.
UPLOAD_LIMITS = {
    **dict.fromkeys(media_types.OUTBOUND_IMAGE_TYPES, media_types.SIZE_LIMITS["image"]),
    **dict.fromkeys(media_types.AUDIO_TYPES, media_types.SIZE_LIMITS["audio"]),
    **dict.fromkeys(media_types.VIDEO_TYPES, media_types.SIZE_LIMITS["video"]),
    **dict.fromkeys(media_types.DOCUMENT_TYPES, media_types.SIZE_LIMITS["document"]),
}

BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")  # a business-scoped user id, or its parent
MESSAGES_PATH = re.compile(r"^/(?P<version>v[0-9.]+)/(?P<phone_number_id>[^/]+)/messages$")
TEMPLATES_PATH = re.compile(r"^/(?P<version>v[0-9.]+)/(?P<waba_id>[^/]+)/message_templates$")
MEDIA_INFO_PATH = re.compile(r"^/(?P<version>v[0-9.]+)/(?P<media_id>[^/]+)$")
UPLOAD_PATH = re.compile(r"^/(?P<version>v[0-9.]+)/(?P<phone_number_id>[^/]+)/media$")
MEDIA_FILE_PATH = re.compile(r"^/media-files/(?P<media_id>[^/]+)$")


@dataclass
class MediaFile:
    """A customer's file the fake keeps by media id: `GET /{version}/{media_id}` answers its URL (a new
    one each time) and facts; `GET` that URL with the bearer token answers the bytes."""

    content: bytes
    mime_type: str
    sha256: str
    file_size: int | None


@dataclass(frozen=True)
class Reply:
    """A scripted answer. `body`: a dict/list (sent as JSON), str or bytes (sent as is), or None: the
    default answer for the path when `status` is 200, an empty body otherwise.

    `delay` waits before answering; `hang` never answers until the server closes (a client read
    timeout); `drop` closes the connection without answering (the connection dies after sending).
    """

    status: int = 200
    body: Any = None
    delay: float = 0.0
    hang: bool = False
    drop: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, str]  # the last value of each parameter
    headers: dict[str, str]  # names in lower case
    body: bytes
    json: Any  # the body parsed as JSON, or None
    reply_status: int | None = None  # filled in when the answer is chosen (None: hung or dropped)
    reply_body: Any = None


def graph_error(
    code: int,
    title: str = "",
    *,
    details: str = "",
    error_type: str = "OAuthException",
    fbtrace_id: str = "AfakeTraceId0001",
) -> dict:
    """An error body in the documented shape; like Graph, the title goes into the message."""
    return {
        "error": {
            "message": f"(#{code}) {title}".strip(),
            "type": error_type,
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": fbtrace_id,
        }
    }


def success_body(to: str, wamid: str | None = None) -> dict:
    """The documented success answer to a send."""
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to.removeprefix("+")}],
        "messages": [{"id": wamid or f"wamid.FAKE{uuid.uuid4().hex.upper()}"}],
    }


def recipient_success_body(recipient: str, wamid: str | None = None) -> dict:
    """The documented success answer to a send addressed by business-scoped user id (`recipient`):
    the contact has `input` and `user_id`, no `wa_id` (Meta, "Business-scoped user IDs")."""
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": recipient, "user_id": recipient}],
        "messages": [{"id": wamid or f"wamid.FAKE{uuid.uuid4().hex.upper()}"}],
    }


def template_refusal(
    subcode: int,
    user_title: str,
    user_msg: str,
    *,
    message: str = "Invalid parameter",
    fbtrace_id: str = "AfakeTraceId0002",
) -> dict:
    """A template creation refusal in Graph's documented error shape (Graph API "Handling Errors"):
    code 100, an error_subcode 2388xxx and the words meant for the person."""
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": 100,
            "error_subcode": subcode,
            "is_transient": False,
            "error_user_title": user_title,
            "error_user_msg": user_msg,
            "fbtrace_id": fbtrace_id,
        }
    }


class FakeGraph:
    """Start with `with FakeGraph() as fake:` (or `start()` / `close()`); `fake.url` is the base URL."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._responder: Callable[[RecordedRequest], Reply | None] | None = None
        self._pages: list[list[dict]] | None = None
        self._media: dict[str, MediaFile] = {}
        self._url_serial = 0
        self._live_url_from = 0  # URLs issued before this serial have expired
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._url: str | None = None
        self.responder_errors: list[Exception] = []
        self.misaddressed: list[RecordedRequest] = []  # sends with a business-scoped user id in `to`
        self.uploads: list[tuple[str, str | None, MediaFile]] = []  # (media id, file name, file) uploaded
        self._thread: threading.Thread | None = None

    # --- Lifecycle -----------------------------------------------------------------------------------
    def start(self) -> FakeGraph:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        host, port = self._server.server_address[:2]
        self._url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-graph", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        with self._lock:  # safe to call twice, from any thread
            server, self._server = self._server, None
        if server is None:
            return
        self._closing.set()  # wakes hanging and delayed answers
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # idle keep-alive connections would block their threads
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("FakeGraph is not started.")
        return self._url

    # --- Scripting -------------------------------------------------------------------------------------
    def enqueue(
        self,
        status: int = 200,
        body: Any = None,
        delay: float = 0.0,
        hang: bool = False,
        *,
        drop: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Script the answer to the next request that has no scripted answer yet."""
        reply = Reply(
            status=status, body=body, delay=delay, hang=hang, drop=drop, headers=dict(headers or {})
        )
        with self._lock:
            self._queue.append(reply)

    def reply_with(self, fn: Callable[[RecordedRequest], Reply | None] | None) -> None:
        """Answer with `fn(request)` (None falls through to the queue and defaults); None removes it."""
        with self._lock:
            self._responder = fn

    def templates(self, pages: list[list[dict]]) -> None:
        """Serve GET /{version}/{waba_id}/message_templates as these pages, linked by `paging.next`."""
        with self._lock:
            self._pages = [list(page) for page in pages]

    def media(
        self,
        media_id: str,
        content: bytes,
        mime_type: str,
        *,
        sha256: str | None = None,
        file_size: int | None = -1,
    ) -> MediaFile:
        """Keep a file under `media_id`: its true sha256 (hex, as GET /{media_id} answers) and size unless
        told otherwise (`file_size=None`: not announced)."""
        kept = MediaFile(
            content=content,
            mime_type=mime_type,
            sha256=hashlib.sha256(content).hexdigest() if sha256 is None else sha256,
            file_size=len(content) if file_size == -1 else file_size,
        )
        with self._lock:
            self._media[media_id] = kept
        return kept

    def expire_media_urls(self) -> None:
        """Every download URL issued so far stops working (they live about 5 minutes): 404 from now on."""
        with self._lock:
            self._live_url_from = self._url_serial + 1

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._responder = None
            self._pages = None
            self.misaddressed.clear()

    # --- Reading ---------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def read_marks(self) -> list[str]:
        """The message ids of the read marks answered with success, in order."""
        return [
            request.json["message_id"]
            for request in self.requests
            if isinstance(request.json, dict)
            and request.json.get("status") == "read"
            and request.reply_status == 200
        ]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `n` requests arrived; AssertionError after `timeout` seconds."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= n, timeout):
                raise AssertionError(
                    f"FakeGraph got {len(self._requests)} request(s) within {timeout} s, expected {n}: "
                    f"{[f'{r.method} {r.path}' for r in self._requests]}"
                )
            return list(self._requests)

    # --- Serving (handler threads) -----------------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
            responder = self._responder
        try:
            reply = responder(request) if responder is not None else None
        except Exception as exc:  # make a broken responder visible to the test, not a dropped connection
            with self._lock:
                self.responder_errors.append(exc)
            return Reply(status=500, body=f"FakeGraph responder raised {exc!r}")
        if reply is None:
            with self._lock:
                reply = self._queue.popleft() if self._queue else Reply()
        return reply

    def _default_body(self, request: RecordedRequest) -> tuple[int, Any]:
        if request.method == "POST" and MESSAGES_PATH.match(request.path):
            return self._send_answer(request)
        if request.method == "POST" and UPLOAD_PATH.match(request.path):
            return self._upload_answer(request)
        with self._lock:
            pages = self._pages
        if request.method == "GET" and pages is not None and TEMPLATES_PATH.match(request.path):
            return 200, self._template_page(request, pages)
        if request.method == "GET" and (answer := self._media_answer(request)) is not None:
            return answer
        return 404, graph_error(
            100, f"Unsupported {request.method.lower()} request to {request.path} (FakeGraph)"
        )

    def _send_answer(self, request: RecordedRequest) -> tuple[int, Any]:
        payload = request.json if isinstance(request.json, dict) else {}
        if "status" in payload:
            return self._read_answer(payload)
        to, recipient = str(payload.get("to") or ""), str(payload.get("recipient") or "")
        if BSUID.fullmatch(to):
            with self._lock:
                self.misaddressed.append(request)
            return 400, graph_error(
                100,
                "Invalid parameter",
                details=f"FakeGraph: {to!r} is a business-scoped user id in `to`; the platform would drop "
                "this message silently. Send it as `recipient`.",
            )
        if to:  # `to` wins when both are given
            return 200, success_body(to)
        if recipient:
            return 200, recipient_success_body(recipient)
        return 400, graph_error(100, "Invalid parameter", details="The parameter to is required.")

    def _upload_answer(self, request: RecordedRequest) -> tuple[int, Any]:
        """POST /{version}/{phone_number_id}/media, multipart as documented (messaging_product=whatsapp,
        type=<MIME type>, file): kept under a new media id (served like a customer's file, listed in
        `uploads`), within the platform's types and size limits, else the platform's errors."""
        fields = multipart_fields(request)
        upload = fields.get("file")
        if fields.get("messaging_product", (None, b""))[1] != b"whatsapp" or upload is None:
            return 400, graph_error(
                100, "Invalid parameter", details="messaging_product and file are required"
            )
        mime = fields.get("type", (None, b""))[1].decode().split(";")[0].strip().lower()
        limit = UPLOAD_LIMITS.get(mime)
        if limit is None:
            return 400, graph_error(
                100, f"Param file must be a file with one of the supported types, not {mime}"
            )
        filename, content = upload
        if len(content) > limit:
            return 400, graph_error(131053, "Media upload error", details=f"File is too big for {mime}")
        media_id = f"{uuid.uuid4().int % 10**15:015d}"
        kept = self.media(media_id, content, mime)
        with self._lock:
            self.uploads.append((media_id, filename, kept))
        return 200, {"id": media_id}

    def _read_answer(self, payload: dict) -> tuple[int, Any]:
        """A read mark: exactly the documented keys (with a typing indicator, or without), else the
        platform's "Invalid parameter"."""
        keys = {"messaging_product", "status", "message_id"}
        if "typing_indicator" in payload:
            if payload["typing_indicator"] != {"type": "text"}:
                return 400, graph_error(
                    100, "Invalid parameter", details=f"FakeGraph: not a typing indicator: {payload}"
                )
            keys.add("typing_indicator")
        well_formed = (
            set(payload) == keys
            and payload["messaging_product"] == "whatsapp"
            and payload["status"] == "read"
            and isinstance(payload["message_id"], str)
            and payload["message_id"]
        )
        if not well_formed:
            return 400, graph_error(
                100, "Invalid parameter", details=f"FakeGraph: not a read mark: {payload}"
            )
        return 200, {"success": True}

    def _media_answer(self, request: RecordedRequest) -> tuple[int, Any] | None:
        info, file = MEDIA_INFO_PATH.match(request.path), MEDIA_FILE_PATH.match(request.path)
        if (info or file) and not request.headers.get("authorization", "").startswith("Bearer "):
            return 401, graph_error(190, "Invalid OAuth access token")
        if info:
            with self._lock:
                kept = self._media.get(info["media_id"])
                self._url_serial += 1
                serial = self._url_serial
            if kept is None:
                return 404, graph_error(100, "Unsupported get request. Object with ID does not exist")
            body: dict[str, Any] = {
                "messaging_product": "whatsapp",
                "url": f"{self.url}/media-files/{info['media_id']}?serial={serial}",
                "mime_type": kept.mime_type,
                "sha256": kept.sha256,
                "id": info["media_id"],
            }
            if kept.file_size is not None:
                body["file_size"] = kept.file_size
            return 200, body
        if file:
            with self._lock:
                kept = self._media.get(file["media_id"])
                live = int(request.query.get("serial", "0")) >= self._live_url_from
            if kept is None or not live:
                return 404, None
            return 200, kept.content
        return None

    def _template_page(self, request: RecordedRequest, pages: list[list[dict]]) -> dict:
        index = int(request.query.get("after", "page-0").removeprefix("page-") or 0)
        page = pages[index] if index < len(pages) else []
        body: dict[str, Any] = {"data": page, "paging": {"cursors": {"before": f"page-{index}"}}}
        if index + 1 < len(pages):
            query = {"limit": request.query.get("limit", "25"), "after": f"page-{index + 1}"}
            # Like Graph, repeat the caller's token in the link (clients must not log or resend it).
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if token:
                query["access_token"] = token
            body["paging"]["cursors"]["after"] = f"page-{index + 1}"
            body["paging"]["next"] = f"{self.url}{request.path}?{urlencode(query)}"
        return body


def multipart_fields(request: RecordedRequest) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data body's fields: name → (file name or None, bytes)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGraph

    def handle_error(self, request, client_address):
        # A client that timed out and left makes the late answer fail; that is the point, not a bug.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real platform
    wbufsize = 64 * 1024  # headers and body in one segment (no Nagle/delayed-ACK stall); flushed per request
    server: _Server

    def setup(self):
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self):
        with self.server.fake._lock:
            self.server.fake._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._answer()

    do_POST = do_DELETE = do_PUT = do_GET

    def _answer(self):
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=raw,
            json=parsed,
        )
        reply = fake._record(request)
        if reply.delay and fake._closing.wait(reply.delay):
            self.close_connection = True
            return
        if reply.hang:
            fake._closing.wait()
            self.close_connection = True
            return
        if reply.drop:
            self.close_connection = True
            return
        status, body = reply.status, reply.body
        if body is None and status == 200:
            status, body = fake._default_body(request)
        request.reply_status, request.reply_body = status, body
        self._write(status, body, reply.headers)

    def _write(self, status: int, body: Any, headers: Mapping[str, str]) -> None:
        if body is None:
            content, content_type = b"", "text/plain"
        elif isinstance(body, bytes):
            content, content_type = body, "application/octet-stream"
        elif isinstance(body, str):
            content = body.encode()
            content_type = "text/html; charset=utf-8" if body.lstrip().startswith("<") else "text/plain"
        else:
            content, content_type = json.dumps(body).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)
