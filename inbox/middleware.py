"""Show times in the agent's own time zone: the browser reports it in a cookie (static/inbox/inbox.js);
until it has, the business time zone (BUSINESS_TIME_ZONE) is used."""

import zoneinfo
from urllib.parse import unquote

from django.conf import settings
from django.utils import timezone

TIMEZONE_COOKIE = "tz"


class AgentTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The script writes the zone percent-encoded ("Europe%2FBerlin"); Django does not decode cookies.
        cookie = unquote(request.COOKIES.get(TIMEZONE_COOKIE, ""))
        timezone.activate(_zone(cookie) or _zone(settings.BUSINESS_TIME_ZONE))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _zone(name):
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
