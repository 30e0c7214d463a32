"""The platform's webhook: verification handshake (GET) and signed deliveries (POST)."""

import hmac
import logging

from django.conf import settings
from django.db import connections
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
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
    request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware does (config.wsgi serves this view without it)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        logger.warning("webhook delivery refused: Content-Length is not a number, from %s", _client(request))
        return _error(400, "the Content-Length header is not a number")
    if declared > settings.WHATSAPP_WEBHOOK_MAX_BYTES:
        logger.warning(
            "webhook delivery of %s bytes refused unread (over 4 MB) from %s", declared, _client(request)
        )
        return _error(413, "the body is over 4 MB")
    body = request.body
    if len(body) > settings.WHATSAPP_WEBHOOK_MAX_BYTES:
        logger.warning(
            "webhook delivery of %s bytes refused (over 4 MB) from %s", len(body), _client(request)
        )
        return _error(413, "the body is over 4 MB")
    header = request.META.get("HTTP_X_HUB_SIGNATURE_256")
    if not signature.verify(body, header, settings.WHATSAPP_APP_SECRET):
        logger.warning(
            "webhook delivery refused: %s X-Hub-Signature-256 (%s bytes) from %s",
            "wrong" if header else "missing",
            len(body),
            _client(request),
        )
        return HttpResponseForbidden("invalid signature", content_type="text/plain")

    receipt = _received(body, header)  # stored before this answers
    if receipt.status != 200:
        logger.warning("webhook delivery %s rejected: %s", receipt.delivery_id, receipt.reason)
        return _error(receipt.status, receipt.reason)
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")


def _received(body: bytes, header: str) -> services.Receipt:
    """services.receive_delivery on a connection that is not health-checked first: the check is a
    `SELECT 1` before every delivery, a fifth of its round trips at a campaign's rate. A reused connection
    that died since the last delivery (the database restarted) fails the first attempt; the transaction
    closes it, and receive_delivery's second attempt runs on a new connection."""
    connections[WebhookDelivery.objects.db].health_check_done = True
    return services.receive_delivery(body, signature=header)


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _client(request) -> str:
    return request.META.get("REMOTE_ADDR", "?")
