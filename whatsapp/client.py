"""The WhatsApp Cloud API (Graph API) client: send a message, mark one read, list the templates, fetch a
customer's media file, upload an agent's.

No Django here: the caller passes the settings in. Every failure is a `PlatformError` that says in plain
words what happened (`info`, from `whatsapp.errors`) and answers the two questions a sender must ask:

- `retryable`: it is certain the platform did NOT accept the message and trying again may help.
- `ambiguous`: the request may have reached the platform and we do not know the outcome. The platform
  has no idempotency key, so posting it again could deliver the message twice: never re-post; wait for
  the status webhook or let a person decide.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx

from conversations.limits import (
    CALLBACK_DATA_MAX_CHARS,
    CAPTION_MAX_CHARS,
    CAPTIONED_MEDIA_TYPES,
    OUTBOUND_MEDIA_TYPES,
    TEXT_MAX_CHARS,
)
from whatsapp.errors import (
    KNOWN_CODES,
    NO_ANSWER,
    NOT_REACHED,
    OUTCOME_UNKNOWN,
    PLATFORM_TROUBLE,
    SLOW_DOWN,
    ErrorInfo,
    Retry,
    describe,
)

logger = logging.getLogger(__name__)

USER_AGENT = f"support-inbox/0.1 (WhatsApp Cloud API client; python-httpx/{httpx.__version__})"

# Raised before any byte of the request left this machine: the platform cannot have seen it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Mistakes on our side, also before sending: trying again cannot help.
_NOT_SENDABLE = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)
# Graph puts the code's title into the message: "(#131047) Re-engagement message".
_CODE_PREFIX = re.compile(r"^\(#\d+\)\s*")
_RECIPIENT = re.compile(r"\+?[1-9][0-9]{4,14}")
# A business-scoped user id (BSUID): an ISO country code, a dot, up to 128 letters and digits, like
# "US.13491208655302741918". The parent form shared across linked portfolios ("US.ENT.…") is not used
# here: the inbox sends to the customer's own id. Source: Meta, "Business-scoped user IDs"
# (developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids).
_BSUID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9]{1,128}")
_PARENT_BSUID = re.compile(r"[A-Z]{2}\.ENT\.[A-Za-z0-9]{1,128}")
_PARAMETER_NAME = re.compile(r"[a-z0-9_]+")
_SNIPPET = 200


class PlatformError(Exception):
    """A request to the platform failed; `info` explains it in plain words."""

    def __init__(
        self,
        *,
        info: ErrorInfo,
        code: int | None = None,
        title: str = "",
        message: str = "",
        details: str = "",
        http_status: int | None = None,
        retryable: bool = False,
        ambiguous: bool = False,
        fbtrace_id: str | None = None,
        error_subcode: int | None = None,
        error_user_title: str = "",
        error_user_msg: str = "",
    ):
        self.info = info
        self.code = code
        self.title = title
        self.message = message
        self.details = details
        self.http_status = http_status
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.fbtrace_id = fbtrace_id
        # Graph's own words for the person (template refusals: code 100, subcode 2388xxx), shown as such.
        self.error_subcode = error_subcode
        self.error_user_title = error_user_title
        self.error_user_msg = error_user_msg
        super().__init__(info.reason)

    @classmethod
    def from_platform(
        cls,
        *,
        code: int | None,
        title: str = "",
        message: str = "",
        details: str = "",
        http_status: int | None = None,
        fbtrace_id: str | None = None,
        error_subcode: int | None = None,
        error_user_title: str = "",
        error_user_msg: str = "",
    ) -> PlatformError:
        """The platform answered with an error (never ambiguous: it answered, so it refused).

        A known code decides by its retry class; an unknown one is retried only when the HTTP status
        says the trouble is passing (429, 5xx). Words the platform wrote for the person
        (`error_user_title` / `error_user_msg`) become the plain-words reason.
        """
        info = describe(
            code,
            title=title,
            details=details,
            subcode=error_subcode,
            user_title=error_user_title,
            user_msg=error_user_msg,
        )
        passing = http_status is not None and (http_status == 429 or http_status >= 500)
        retryable = info.retry is Retry.BACKOFF or (code not in KNOWN_CODES and passing)
        return cls(
            info=info,
            code=code,
            title=title,
            message=message,
            details=details,
            http_status=http_status,
            retryable=retryable,
            fbtrace_id=fbtrace_id,
            error_subcode=error_subcode,
            error_user_title=error_user_title,
            error_user_msg=error_user_msg,
        )

    @property
    def user_text(self) -> str:
        """The platform's words for the person ("<error_user_title> — <error_user_msg>"), or ""."""
        return " — ".join(
            part.strip() for part in (self.error_user_title, self.error_user_msg) if part.strip()
        )

    def final_text(self, *, retried: bool = False) -> str:
        """The error text of a message this failure ends for good: never a promise of a retry, what a
        person can do instead, the platform's words quoted (see `ErrorInfo.final_text`)."""
        return self.info.final_text(
            title=self.title, message=self.message, details=self.details, retried=retried
        )

    def _fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _ERROR_FIELDS}

    def __reduce__(self):
        # Keyword-only arguments: the default (cls, self.args) would not rebuild it after pickling
        # (Celery pickles exceptions it records or retries with).
        return (_rebuild_platform_error, (type(self), self._fields()))

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"HTTP {self.http_status}" if self.http_status is not None else "",
                self.title,
            )
            if part
        )
        head = f"WhatsApp error {self.code}" if self.code is not None else "WhatsApp request failed"
        if self.error_subcode is not None:
            head += f"/{self.error_subcode}"
        if where:
            head += f" ({where})"
        outcome = (
            "outcome unknown: do not resend"
            if self.ambiguous
            else "retryable"
            if self.retryable
            else "not retryable"
        )
        text = f"{head}: {self.info.reason} [{outcome}]"
        return f"{text} fbtrace_id={self.fbtrace_id}" if self.fbtrace_id else text


_ERROR_FIELDS = (
    "info",
    "code",
    "title",
    "message",
    "details",
    "http_status",
    "retryable",
    "ambiguous",
    "fbtrace_id",
    "error_subcode",
    "error_user_title",
    "error_user_msg",
)


def _rebuild_platform_error(cls: type[PlatformError], fields: dict[str, Any]) -> PlatformError:
    return cls(**fields)


@dataclass(frozen=True)
class MediaInfo:
    """The platform's answer to GET /{media_id}."""

    url: str  # lives about 5 minutes; fetched with the bearer token
    mime_type: str
    sha256: str
    file_size: int | None


class MediaTooLarge(Exception):
    """A download larger than the limit it was given: stopped before it was all read."""

    def __init__(self, size: int, limit: int):
        self.size, self.limit = size, limit
        super().__init__(f"{size} bytes or more, over the limit of {limit}")


@dataclass(frozen=True)
class SendResult:
    wamid: str  # the platform's message id; statuses in webhooks refer to it
    wa_id: str | None  # the recipient's WhatsApp id (phone digits); absent for a send to a BSUID
    raw: dict  # the platform's answer as received
    user_id: str | None = None  # the recipient's business-scoped user id, for a send addressed by one


class GraphClient:
    """One client per set of credentials; holds one `httpx.Client` (close it, or use `with`)."""

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        phone_number_id: str,
        access_token: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.version = version.strip("/")
        self.phone_number_id = phone_number_id
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if access_token:
            headers["Authorization"] = f"Bearer {access_token}"
        # The token lives only in the httpx client's headers (whose repr masks it), never in a URL.
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"<GraphClient {self.base_url}/{self.version} phone_number_id={self.phone_number_id}>"

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- Sending ---------------------------------------------------------------------------------------
    def send(self, payload: dict) -> SendResult:
        """POST one message. Returns once the platform accepted it (accepted, not yet delivered)."""
        response, body = self._post(f"/{self.version}/{self.phone_number_id}/messages", payload)
        wamid, wa_id, user_id = _accepted_ids(body)
        if wamid is None:
            logger.warning("Send answered HTTP %s in an undocumented shape", response.status_code)
            raise _unexpected_answer(response)
        return SendResult(wamid=wamid, wa_id=wa_id, user_id=user_id, raw=body or {})

    def mark_read(self, payload: dict) -> None:
        """POST a read mark (`read_payload`): the customer sees blue ticks on that message and the earlier
        ones. The platform answers `{"success": true}`; marking the same message again is harmless."""
        response, body = self._post(f"/{self.version}/{self.phone_number_id}/messages", payload)
        if body is None or body.get("success") is not True:
            logger.warning("Read mark answered HTTP %s in an undocumented shape", response.status_code)
            raise _unexpected_answer(response)

    # --- Media -----------------------------------------------------------------------------------------
    def media_info(self, media_id: str) -> MediaInfo:
        """GET /{media_id}: where to download the file (a URL that lives about 5 minutes) and what the
        platform says it is. A media id the platform no longer knows answers a Graph error."""
        response = self._request("GET", f"/{self.version}/{quote(media_id, safe='')}", write=False)
        body = _json_object(response)
        _raise_for_failure(response, body, write=False)
        url = body.get("url") if body is not None else None
        if not isinstance(url, str) or not url:
            raise _unexpected_read(response)
        size = _as_int(body.get("file_size"))
        return MediaInfo(
            url=url,
            mime_type=str(body.get("mime_type") or ""),
            sha256=str(body.get("sha256") or ""),
            file_size=size if size is not None and size >= 0 else None,
        )

    def download_media(self, url: str, into: BinaryIO, *, max_bytes: int) -> int:
        """GET the file at `url` (from `media_info`) with the bearer token, streamed into `into`; refuses
        (MediaTooLarge) more than `max_bytes` before reading it all. Returns the number of bytes. The
        token goes only to an https URL or to our own base (a local stand-in), never elsewhere."""
        parts = urlsplit(url)
        if parts.scheme != "https" and (parts.scheme, parts.netloc) != self._origin:
            raise PlatformError(
                info=describe(None, title="Media link not over https", details=parts.netloc),
                title="Media link not over https",
            )
        try:
            with self._http.stream("GET", url) as response:
                if response.status_code >= 300:
                    response.read()
                    _raise_for_failure(response, _json_object(response), write=False)
                announced = _as_int(response.headers.get("content-length"))
                if announced is not None and announced > max_bytes:
                    raise MediaTooLarge(announced, max_bytes)
                received = 0
                for chunk in response.iter_bytes(64 * 1024):
                    received += len(chunk)
                    if received > max_bytes:
                        raise MediaTooLarge(received, max_bytes)
                    into.write(chunk)
                return received
        except httpx.RequestError as exc:
            logger.warning("WhatsApp media download from %s: %s", parts.netloc, type(exc).__name__)
            raise PlatformError(
                info=NO_ANSWER, title=type(exc).__name__, message=str(exc), retryable=True
            ) from exc

    def upload_media(self, content: BinaryIO, *, filename: str, mime_type: str) -> str:
        """POST /{PHONE_NUMBER_ID}/media (multipart: messaging_product, type, file): a file to send by the
        id the platform answers (kept there 30 days). An answer lost on the way is an unknown outcome
        (`ambiguous`), like any write; the caller may upload again (an unused upload costs nothing)."""
        response = self._request(
            "POST",
            f"/{self.version}/{self.phone_number_id}/media",
            write=True,
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
        )
        body = _json_object(response)
        _raise_for_failure(response, body, write=True)
        media_id = _text_or_none(body.get("id")) if body is not None else None
        if media_id is None:
            logger.warning("Media upload answered HTTP %s in an undocumented shape", response.status_code)
            raise _unexpected_answer(response)
        return media_id

    # --- Templates -------------------------------------------------------------------------------------
    def list_templates(self, waba_id: str, *, limit: int = 100) -> Iterator[dict]:
        """Every template (one item per name and language) of the business account, page after page."""
        url: str = f"/{self.version}/{waba_id}/message_templates"
        params: dict[str, Any] | None = {"limit": limit}
        followed: set[str] = set()
        while True:
            response = self._request("GET", url, write=False, params=params)
            body = _json_object(response)
            _raise_for_failure(response, body, write=False)
            if body is None or not isinstance(body.get("data"), list):
                raise _unexpected_read(response)
            yield from (item for item in body["data"] if isinstance(item, dict))
            paging = body.get("paging")
            next_url = paging.get("next") if isinstance(paging, dict) else None
            if not isinstance(next_url, str) or not next_url:
                return
            url, params = self._next_page(next_url), None
            if url in followed:  # a platform bug would otherwise loop forever
                return
            followed.add(url)

    def create_template(self, waba_id: str, template: dict) -> dict:
        """POST a new template for review ({name, language, category, parameter_format, components}).
        Returns the platform's answer, `{"id", "status", "category"}`: usually PENDING."""
        response, body = self._post(f"/{self.version}/{waba_id}/message_templates", template)
        if body is None or not body.get("id"):
            raise _unexpected_answer(response)
        return body

    def edit_template(self, template_id: str, changes: dict) -> dict:
        """POST the new version of a template the platform knows ({category, components}): it is
        reviewed again. Returns the platform's answer (`{"success": true}`)."""
        _, body = self._post(f"/{self.version}/{template_id}", changes)
        return body or {}

    def _next_page(self, next_url: str) -> str:
        """`paging.next` is absolute: follow it only to our own base, and without the token it embeds."""
        parts = urlsplit(next_url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise PlatformError(
                info=describe(None, title="Paging link to another host", details=parts.netloc),
                title="Paging link to another host",
            )
        # Graph repeats the access token in paging links; the header carries it, and URLs get logged.
        query = [(key, value) for key, value in parse_qsl(parts.query) if key != "access_token"]
        return urlunsplit(parts._replace(query=urlencode(query)))

    # --- Transport -------------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict) -> tuple[httpx.Response, dict | None]:
        """POST JSON (a write: an answer lost on the way is an unknown outcome); raise for an error."""
        response = self._request("POST", path, write=True, json=payload)
        body = _json_object(response)
        _raise_for_failure(response, body, write=True)
        return response, body

    def _request(self, method: str, url: str, *, write: bool, **kwargs) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except _NOT_SENT as exc:
            logger.warning("WhatsApp %s %s not sent: %s", method, _path(url), type(exc).__name__)
            raise PlatformError(
                info=NOT_REACHED, title=type(exc).__name__, message=str(exc), retryable=True
            ) from exc
        except _NOT_SENDABLE as exc:
            raise PlatformError(
                info=describe(None, title=type(exc).__name__, details=str(exc)),
                title=type(exc).__name__,
                message=str(exc),
            ) from exc
        except httpx.RequestError as exc:
            # The request was (perhaps partly) sent and no complete answer came back.
            logger.warning("WhatsApp %s %s: no answer (%s)", method, _path(url), type(exc).__name__)
            if write:
                raise PlatformError(
                    info=OUTCOME_UNKNOWN, title=type(exc).__name__, message=str(exc), ambiguous=True
                ) from exc
            raise PlatformError(
                info=NO_ANSWER, title=type(exc).__name__, message=str(exc), retryable=True
            ) from exc


def _unexpected_read(response: httpx.Response) -> PlatformError:
    """An answer to a read in an undocumented shape: nothing changed, asking again may work."""
    return PlatformError(
        info=NO_ANSWER,
        title="Unexpected answer",
        message=_snippet(response),
        http_status=response.status_code,
        retryable=True,
    )


def _unexpected_answer(response: httpx.Response) -> PlatformError:
    """A 2xx answer to a write in an undocumented shape: whether it took effect is unknown."""
    return PlatformError(
        info=OUTCOME_UNKNOWN,
        title="Unexpected answer",
        message=_snippet(response),
        http_status=response.status_code,
        ambiguous=True,
    )


def _raise_for_failure(response: httpx.Response, body: dict | None, *, write: bool) -> None:
    """Raise for a Graph error body (any status) or a non-2xx answer; return for a 2xx."""
    status = response.status_code
    error = body.get("error") if body is not None else None
    if isinstance(error, dict):
        raise _graph_error(error, status)
    if 200 <= status < 300:
        return
    logger.warning("WhatsApp answered HTTP %s without an error body", status)
    if status == 429:
        raise PlatformError(info=SLOW_DOWN, http_status=status, message=_snippet(response), retryable=True)
    if status == 504 and write:
        # A gateway gave up waiting for the platform, which may still have accepted the message.
        raise PlatformError(
            info=OUTCOME_UNKNOWN, http_status=status, message=_snippet(response), ambiguous=True
        )
    if status >= 500:
        raise PlatformError(
            info=PLATFORM_TROUBLE, http_status=status, message=_snippet(response), retryable=True
        )
    title = f"HTTP {status} {response.reason_phrase}".strip()
    raise PlatformError(
        info=describe(None, title=title, details=_snippet(response)),
        title=title,
        message=_snippet(response),
        http_status=status,
    )


def _graph_error(error: Mapping[str, Any], status: int) -> PlatformError:
    code = _as_int(error.get("code"))
    message = str(error.get("message") or "")
    title = _CODE_PREFIX.sub("", message)
    error_data = error.get("error_data")
    details = str(error_data.get("details") or "") if isinstance(error_data, dict) else ""
    trace = error.get("fbtrace_id")
    # Graph's error body (developers.facebook.com/docs/graph-api/guides/error-handling): template
    # refusals add error_subcode (2388xxx) and error_user_title / error_user_msg, words for the person.
    subcode = _as_int(error.get("error_subcode"))
    user_title = str(error.get("error_user_title") or "")
    user_msg = str(error.get("error_user_msg") or "")
    logger.warning("WhatsApp error %s/%s (HTTP %s, fbtrace_id=%s): %s", code, subcode, status, trace, title)
    return PlatformError.from_platform(
        code=code,
        title=title,
        message=message,
        details=details,
        http_status=status,
        fbtrace_id=str(trace) if trace else None,
        error_subcode=subcode,
        error_user_title=user_title,
        error_user_msg=user_msg,
    )


def _accepted_ids(body: dict | None) -> tuple[str | None, str | None, str | None]:
    """(wamid, wa_id, user_id) from `{"contacts": [{"input", "wa_id" | "user_id"}], "messages": [{"id"}]}`:
    a send to a phone number answers its wa_id, one to a business-scoped user id its user_id and no
    wa_id (Meta, "Business-scoped user IDs"). wamid is None if absent."""
    if body is None:
        return None, None, None
    messages = body.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    contacts = body.get("contacts")
    contact = contacts[0] if isinstance(contacts, list) and contacts else None
    contact = contact if isinstance(contact, dict) else {}
    return _text_or_none(wamid), _text_or_none(contact.get("wa_id")), _text_or_none(contact.get("user_id"))


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _json_object(response: httpx.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:  # not JSON, or not UTF-8
        return None
    return body if isinstance(body, dict) else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _snippet(response: httpx.Response) -> str:
    try:
        text = " ".join(response.text.split())
    except UnicodeDecodeError:
        return ""
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def _path(url: str) -> str:
    return urlsplit(url).path


# --- Payloads: exactly the documented shapes ---------------------------------------------------------------
# Addressing: `to=` a phone number, or `recipient=` a business-scoped user id (BSUID) for a customer known
# only by one (a username, no phone number). Per Meta's "Business-scoped user IDs" page, `to` sends to a
# phone number, `recipient` to a BSUID, and when both are present `to` takes precedence; a BSUID put into
# `to` is dropped silently. So a payload carries exactly one of them: the phone number whenever known.
def text_payload(
    *,
    to: str | None = None,
    recipient: str | None = None,
    body: str,
    callback_data: str | None = None,
    preview_url: bool = False,
) -> dict:
    """A free-form text message (only inside the customer service window), to a phone number (`to`) or,
    when none is known, a business-scoped user id (`recipient`)."""
    if not body or not body.strip():
        raise ValueError("A text message needs a body.")
    if len(body) > TEXT_MAX_CHARS:
        raise ValueError(f"A text message is at most {TEXT_MAX_CHARS} characters; this one has {len(body)}.")
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **_addressee(to, recipient),
        "type": "text",
        "text": {"body": body, "preview_url": preview_url},
    }
    return _with_callback_data(payload, callback_data)


def media_payload(
    *,
    to: str | None = None,
    recipient: str | None = None,
    kind: str,
    media_id: str,
    caption: str = "",
    filename: str = "",
    callback_data: str | None = None,
) -> dict:
    """A photo, video, recording or document sent by the id its upload got (only inside the customer
    service window): `{"type": kind, kind: {"id", "caption"?, "filename"?}}`. A caption goes with a
    photo, a video or a document, never a recording; a file name only with a document. Addressed like
    `text_payload`."""
    if kind not in OUTBOUND_MEDIA_TYPES:
        raise ValueError(f"A media message is one of {', '.join(OUTBOUND_MEDIA_TYPES)}; not {kind!r}.")
    if not media_id:
        raise ValueError("A media message needs the id its upload got.")
    media: dict[str, Any] = {"id": media_id}
    if caption.strip():
        if kind not in CAPTIONED_MEDIA_TYPES:
            raise ValueError(f"A {kind} message carries no caption.")
        if len(caption) > CAPTION_MAX_CHARS:
            raise ValueError(
                f"A caption is at most {CAPTION_MAX_CHARS} characters; this one has {len(caption)}."
            )
        media["caption"] = caption
    if filename and kind == "document":
        media["filename"] = filename
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **_addressee(to, recipient),
        "type": kind,
        kind: media,
    }
    return _with_callback_data(payload, callback_data)


def read_payload(message_id: str, *, typing: bool = False) -> dict:
    """Mark a customer's message read (Meta, "Mark messages as read"): its wamid, as the message webhook
    gave it. The platform also marks the earlier messages of the chat read. `typing`: and show the
    customer that we are typing (the indicator goes after 25 s or when our reply arrives)."""
    if not isinstance(message_id, str) or not message_id.strip():
        raise ValueError(f"A read mark needs the wamid of a message the customer sent; got {message_id!r}.")
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
    if typing:
        payload["typing_indicator"] = {"type": "text"}
    return payload


def reaction_payload(
    *,
    to: str | None = None,
    recipient: str | None = None,
    message_id: str,
    emoji: str,
    callback_data: str | None = None,
) -> dict:
    """An emoji reaction to the customer's message `message_id` (its wamid); an empty `emoji` removes
    ours. A non-template message: inside the customer service window only."""
    if not isinstance(message_id, str) or not message_id.strip():
        raise ValueError(f"A reaction needs the wamid of the message it is about; got {message_id!r}.")
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **_addressee(to, recipient),
        "type": "reaction",
        "reaction": {"message_id": message_id, "emoji": emoji or ""},
    }
    return _with_callback_data(payload, callback_data)


def with_reply_context(payload: dict, message_id: str | None) -> dict:
    """`payload` as a reply to `message_id` (a wamid): WhatsApp shows that message quoted above it."""
    if message_id:
        payload["context"] = {"message_id": message_id}
    return payload


def template_payload(
    *,
    to: str | None = None,
    recipient: str | None = None,
    name: str,
    language: str,
    parameter_format: str,
    params: list | dict | None,
    callback_data: str | None = None,
    extras: dict | None = None,
) -> dict:
    """A template message with body parameters, and a header's and URL buttons' where it has them.

    NAMED templates take a dict {parameter_name: value}; POSITIONAL ones a list in order (or a dict
    keyed 1..n). `extras` is what templates_app.sending.prepare returned: {"header": {"format", "name",
    "value"}, "buttons": [{"index", "value"}]}. No parameters at all → no `components` key. Addressed
    like `text_payload`; one-tap, zero-tap and copy-code authentication templates need a phone number
    (a `recipient` gets error 131062).
    """
    fmt = parameter_format.upper()
    if fmt == "NAMED":
        parameters = _named_parameters(params)
    elif fmt == "POSITIONAL":
        parameters = _positional_parameters(params)
    else:
        raise ValueError(f"parameter_format must be NAMED or POSITIONAL, not {parameter_format!r}.")
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    extras = extras or {}
    components = []
    if header := extras.get("header"):
        components.append({"type": "header", "parameters": [_header_parameter(header, fmt)]})
    if parameters:
        components.append({"type": "body", "parameters": parameters})
    for button in extras.get("buttons") or []:
        if button.get("sub_type") == "copy_code":
            parameter = {"type": "coupon_code", "coupon_code": str(button["value"])}
        else:
            parameter = {"type": "text", "text": str(button["value"])}
        sub_type = button.get("sub_type", "url")
        components.append(
            {"type": "button", "sub_type": sub_type, "index": str(button["index"]), "parameters": [parameter]}
        )
    if components:
        template["components"] = components
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        **_addressee(to, recipient),
        "type": "template",
    }
    payload = _with_callback_data(payload, callback_data)
    payload["template"] = template
    return payload


def _header_parameter(header: dict, parameter_format: str) -> dict:
    """A TEXT header's value (named like the body's in a NAMED template), a media header's link, or a
    LOCATION header's place."""
    header_format = str(header["format"]).upper()
    if header_format == "TEXT":
        parameter = {"type": "text", "text": str(header["value"])}
        if parameter_format == "NAMED":
            parameter = {"type": "text", "parameter_name": header["name"], "text": str(header["value"])}
        return parameter
    if header_format == "LOCATION":
        place = header["value"]
        location = {"latitude": str(place["latitude"]), "longitude": str(place["longitude"])}
        location |= {key: place[key] for key in ("name", "address") if place.get(key)}
        return {"type": "location", "location": location}
    media = header_format.lower()  # image, video, document
    return {"type": media, media: {"link": str(header["value"])}}


def is_business_scoped_user_id(value: object) -> bool:
    """A customer's own business-scoped user id ("US.13491208655302741918"), not its parent form."""
    return isinstance(value, str) and _BSUID.fullmatch(value) is not None


def _addressee(to: str | None, recipient: str | None) -> dict[str, str]:
    """{"to": phone} when a phone number is given (it wins at the platform anyway), else {"recipient":
    BSUID}; a BSUID is never put into `to`, where the platform would drop the message silently."""
    if to:
        return {"to": _phone_number(to)}
    if recipient:
        if isinstance(recipient, str) and _PARENT_BSUID.fullmatch(recipient):
            raise ValueError(
                f"{recipient!r} is a parent business-scoped user id (shared across linked portfolios); "
                "address the customer by their own id, like 'US.13491208655302741918'."
            )
        if not is_business_scoped_user_id(recipient):
            raise ValueError(
                "The recipient must be a business-scoped user id, a country code, a dot and up to 128 "
                f"letters or digits like 'US.13491208655302741918'; got {recipient!r}."
            )
        return {"recipient": recipient}
    raise ValueError(
        "A message needs an addressee: the customer's phone number (to=) or, when none is known, their "
        "business-scoped user id (recipient=)."
    )


def _phone_number(to: str) -> str:
    if is_business_scoped_user_id(to) or (isinstance(to, str) and _PARENT_BSUID.fullmatch(to)):
        raise ValueError(
            f"{to!r} is a business-scoped user id: pass it as recipient=, never as to= (the platform "
            "drops such a message silently)."
        )
    if not isinstance(to, str) or not _RECIPIENT.fullmatch(to):
        raise ValueError(f"The recipient must be an international number, +<digits>; got {to!r}.")
    return "+" + to.removeprefix("+")


def _with_callback_data(payload: dict, callback_data: str | None) -> dict:
    if callback_data is not None:
        if not callback_data or len(callback_data) > CALLBACK_DATA_MAX_CHARS:
            raise ValueError(f"callback_data must be 1 to {CALLBACK_DATA_MAX_CHARS} characters.")
        payload["biz_opaque_callback_data"] = callback_data
    return payload


def _named_parameters(params: list | dict | None) -> list[dict]:
    if params is None:
        return []
    if not isinstance(params, dict):
        raise ValueError("A NAMED template takes its parameters as a dict {parameter_name: value}.")
    parameters = []
    for name, value in params.items():
        if not isinstance(name, str) or not _PARAMETER_NAME.fullmatch(name):
            raise ValueError(f"Parameter names are lowercase letters, digits and _; got {name!r}.")
        parameters.append({"type": "text", "parameter_name": name, "text": _parameter_text(name, value)})
    return parameters


def _positional_parameters(params: list | dict | None) -> list[dict]:
    if params is None:
        return []
    if isinstance(params, dict):
        try:
            numbered = {int(key): value for key, value in params.items()}
        except (TypeError, ValueError):
            raise ValueError("A POSITIONAL template's dict parameters are keyed 1..n.") from None
        if sorted(numbered) != list(range(1, len(numbered) + 1)):
            raise ValueError(
                f"POSITIONAL parameters must be numbered 1..n without gaps; got {sorted(numbered)}."
            )
        values = [numbered[position] for position in sorted(numbered)]
    elif isinstance(params, list | tuple):
        values = list(params)
    else:
        raise ValueError("A POSITIONAL template takes its parameters as a list in order.")
    return [
        {"type": "text", "text": _parameter_text(str(position), value)}
        for position, value in enumerate(values, start=1)
    ]


def _parameter_text(name: str, value: Any) -> str:
    # The platform refuses empty parameters (and would print True/None literally): fail before sending.
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"Parameter {name} must be text or a number; got {value!r}.")
    text = str(value)
    if not text.strip():
        raise ValueError(f"Parameter {name} is empty.")
    return text
