"""The WSGI entry point (gunicorn config.wsgi:application).

The platform's webhook is served by Django's own handler without the browser's middleware: a signed POST
from the platform has no session, no CSRF token, no agent's time zone and renders no page, and at a
campaign's scale it is most of the traffic (three statuses per message sent): the eleven middleware cost
about a sixth of each delivery's CPU (scripts/benchmark_channel.py). Everything else, and the same URL
under Django's test client, goes through the whole stack."""

import os

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()  # sets Django up

WEBHOOK_PATH = "/webhooks/whatsapp/"  # config.urls → whatsapp.urls


class PlatformHandler(WSGIHandler):
    """Django's handler (request signals, URL resolution, the view, errors turned into responses and
    logged) with no middleware. The view checks the Host header itself (ALLOWED_HOSTS)."""

    def load_middleware(self, is_async=False):
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        self._middleware_chain = convert_exception_to_response(self._get_response)

    def resolve_request(self, request):
        """The one URL this handler serves, resolved once (the URLconf's walk is per request otherwise)."""
        if self._match is None:
            self._match = super().resolve_request(request)
        request.resolver_match = self._match
        return self._match

    _match = None


platform_application = PlatformHandler()


def application(environ, start_response):
    if environ.get("PATH_INFO") == WEBHOOK_PATH and environ.get("REQUEST_METHOD") == "POST":
        return platform_application(environ, start_response)
    return django_application(environ, start_response)
