"""The WSGI entry point (gunicorn config.wsgi:application).

The platform's POSTs to its webhook are answered by a bare WSGI application (`platform_application`):
a signed delivery has no session, no CSRF token, no agent's time zone, renders no page and needs no URL
resolved, and at a campaign's scale it is most of the traffic (three statuses per message sent). Django's
handler, its eleven middleware, its request and response objects cost about a third of each delivery's
CPU (scripts/benchmark_channel.py); what of them the webhook needs is kept here: ALLOWED_HOSTS, the
request signals (which close a connection that is broken or past CONN_MAX_AGE), and an error turned into
a logged 500 (error tracking takes it from the log). The answer itself is whatsapp.views.answer_delivery,
the same the view gives under the whole stack. Everything else, the verification GET and the same URL
under Django's test client, goes through Django's handler and all its middleware."""

import functools
import logging
import os
from http import HTTPStatus

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()  # sets Django up

from django.http import HttpRequest  # noqa: E402 — after the setup

from whatsapp import views  # noqa: E402

WEBHOOK_PATH = "/webhooks/whatsapp/"  # config.urls → whatsapp.urls

logger = logging.getLogger("django.request")  # where Django logs a request's crash
security_logger = logging.getLogger("django.security.DisallowedHost")

_BAD_REQUEST = views.Answer(400, "text/plain", b"Bad Request")
_SERVER_ERROR = views.Answer(500, "text/plain", b"Internal Server Error")


def platform_application(environ, start_response):
    """A delivery POSTed to WEBHOOK_PATH: stored, applied and answered without Django's handler."""
    signals.request_started.send(sender=WSGIHandler, environ=environ)
    try:
        answer = _answer(environ)
    finally:
        signals.request_finished.send(sender=WSGIHandler)
    start_response(
        f"{answer.status} {HTTPStatus(answer.status).phrase}",
        [("Content-Type", answer.content_type), ("Content-Length", str(len(answer.content)))],
    )
    return [answer.content]


def _answer(environ) -> views.Answer:
    try:
        _check_host(environ)
        return views.answer_delivery(
            content_length=environ.get("CONTENT_LENGTH"),
            read=environ["wsgi.input"].read,
            signature_header=environ.get("HTTP_X_HUB_SIGNATURE_256"),
            client=environ.get("REMOTE_ADDR", "?"),
        )
    except DisallowedHost as error:  # as Django answers it: 400, logged as a security warning
        security_logger.warning("%s", error)
        return _BAD_REQUEST
    except Exception:
        logger.exception("Internal Server Error: %s", WEBHOOK_PATH)
        signals.got_request_exception.send(sender=WSGIHandler, request=None)
        return _SERVER_ERROR


def _check_host(environ) -> None:
    """ALLOWED_HOSTS, checked by Django's own HttpRequest.get_host (the forwarded host when trusted; else
    DisallowedHost) on a bare request over the environ: a WSGIRequest would parse what is not needed.
    The platform names the same host on every delivery, so the verdict on a Host header is kept with
    the headers and settings it was reached with (a few entries: made-up hosts only churn them)."""
    if "HTTP_HOST" not in environ:  # rebuilt from the server's name and port: checked as it comes
        _host_of(environ)
        return
    verdict = _host_verdict(
        environ["HTTP_HOST"],
        environ.get("HTTP_X_FORWARDED_HOST"),
        tuple(settings.ALLOWED_HOSTS),
        settings.DEBUG,
        settings.USE_X_FORWARDED_HOST,
    )
    if verdict is not None:
        raise DisallowedHost(verdict)


@functools.lru_cache(maxsize=16)
def _host_verdict(host: str, forwarded_host: str | None, *_settings) -> str | None:
    """None when the host is allowed, else Django's message why not (`_settings`: those the check reads,
    as part of the key)."""
    environ = {"HTTP_HOST": host}
    if forwarded_host is not None:
        environ["HTTP_X_FORWARDED_HOST"] = forwarded_host
    try:
        _host_of(environ)
    except DisallowedHost as error:
        return str(error)
    return None


def _host_of(environ) -> str:
    request = HttpRequest()
    request.META = environ
    return request.get_host()


def application(environ, start_response):
    if environ.get("PATH_INFO") == WEBHOOK_PATH and environ.get("REQUEST_METHOD") == "POST":
        return platform_application(environ, start_response)
    return django_application(environ, start_response)
