"""Sign-in throttling (django-axes, configured in config/settings.py): after LOGIN_FAILURE_LIMIT wrong
passwords for one username from one address, that pair is refused for LOGIN_LOCKOUT_MINUTES, on the
inbox's sign-in page and the admin's alike. Other users, and the same user elsewhere, sign in as usual;
an admin unlocks early by deleting the access attempt in the admin (Axes › Access attempts)."""

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.shortcuts import render

LOCKED_OUT_STATUS = 429


class ThrottledSignIn(AxesStandaloneBackend):
    """Axes' check before the password is compared. A check without a request (a script or a test calling
    `authenticate()` directly) has no client to throttle and goes on to the next backend instead of
    failing; every sign-in page passes its request."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str | None:
    """The address a sign-in is counted against. Behind the TLS proxy (DJANGO_BEHIND_TLS_PROXY, the same
    trust as X-Forwarded-Proto) every request comes from the proxy, so the client is the last address of
    X-Forwarded-For: the one the proxy itself appended. Earlier entries are whatever the client sent and
    are never trusted. Without the proxy the peer address is the client."""
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last_hop = forwarded.rsplit(",", 1)[-1].strip()
        if last_hop:
            return last_hop
    return request.META.get("REMOTE_ADDR")


def locked_out(request, original_response=None, credentials=None):
    """The page a refused sign-in gets: what happened, for how long, and who can lift it (axes calls this
    instead of its own plain-text answer)."""
    cool_off = get_cool_off(request)
    context = {
        "username": get_client_username(request, credentials) or "",
        "minutes": round(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=LOCKED_OUT_STATUS)
