"""The platform's webhook: verification handshake (GET) and signed deliveries (POST)."""

import hmac
import json
import logging
from collections.abc import Callable
from typing import NamedTuple

from django.conf import settings
from django.db import connections
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from whatsapp import services, signature
from whatsapp.models import WebhookDelivery

logger = logging.getLogger(__name__)


@csrf_exempt  # the platform cannot send a CSRF token; the HMAC signature authenticates each POST
@require_http_methods(["GET", "POST"])
def webhook(request):
    if request.method == "GET":
        return _verify(request)
    return _receive(request)


def _verify(request):
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    if mode == "subscribe" and hmac.compare_digest(token.encode(), settings.WHATSAPP_VERIFY_TOKEN.encode()):
        return HttpResponse(challenge, content_type="text/plain")
    logger.warning("webhook verification refused (mode %r) from %s", mode, _client(request))
    return HttpResponseForbidden("verification token mismatch", content_type="text/plain")


def _receive(request):
    """The POST under Django's whole stack (its test client, a deployment that routes it there):
    config.wsgi serves gunicorn's with `answer_delivery` alone."""
    answer = answer_delivery(
        content_length=request.META.get("CONTENT_LENGTH"),
        read=lambda _length: request.body,  # read by Django up to Content-Length
        signature_header=request.META.get("HTTP_X_HUB_SIGNATURE_256"),
        client=_client(request),
    )
    return HttpResponse(answer.content, status=answer.status, content_type=answer.content_type)


class Answer(NamedTuple):
    status: int
    content_type: str
    content: bytes


RECEIVED = Answer(200, "text/plain", b"EVENT_RECEIVED")


def answer_delivery(
    *, content_length: str | None, read: Callable[[int], bytes], signature_header: str | None, client: str
) -> Answer:
    """The answer to a delivery POSTed by the platform, from what it takes of the request: the
    Content-Length header, a way to read the body (at most that many bytes), the signature header and
    the client's address (for the log). The Host header is the caller's to check (ALLOWED_HOSTS).
    The delivery is stored before this answers."""
    try:
        declared = int(content_length or 0)
    except ValueError:
        declared = -1
    if declared < 0:
        logger.warning("webhook delivery refused: Content-Length is not a number, from %s", client)
        return _error(400, "the Content-Length header is not a number")
    if declared > settings.WHATSAPP_WEBHOOK_MAX_BYTES:
        logger.warning("webhook delivery of %s bytes refused unread (over 4 MB) from %s", declared, client)
        return _error(413, "the body is over 4 MB")
    body = read(declared)
    if len(body) > settings.WHATSAPP_WEBHOOK_MAX_BYTES:
        logger.warning("webhook delivery of %s bytes refused (over 4 MB) from %s", len(body), client)
        return _error(413, "the body is over 4 MB")
    if not signature.verify(body, signature_header, settings.WHATSAPP_APP_SECRET):
        logger.warning(
            "webhook delivery refused: %s X-Hub-Signature-256 (%s bytes) from %s",
            "wrong" if signature_header else "missing",
            len(body),
            client,
        )
        return Answer(403, "text/plain", b"invalid signature")

    receipt = _received(body, signature_header)  # stored before this answers
    if receipt.status != 200:
        logger.warning("webhook delivery %s rejected: %s", receipt.delivery_id, receipt.reason)
        return _error(receipt.status, receipt.reason)
    return RECEIVED


def _received(body: bytes, header: str) -> services.Receipt:
    """services.receive_delivery on a connection that is not health-checked first: the check is a
    `SELECT 1` before every delivery, a fifth of its round trips at a campaign's rate. A reused connection
    that died since the last delivery (the database restarted) fails the first attempt; the transaction
    closes it, and receive_delivery's second attempt runs on a new connection."""
    connections[WebhookDelivery.objects.db].health_check_done = True
    return services.receive_delivery(body, signature=header)


def _error(status: int, reason: str) -> Answer:
    return Answer(status, "application/json", json.dumps({"error": reason}).encode())


def _client(request) -> str:
    return request.META.get("REMOTE_ADDR", "?")
