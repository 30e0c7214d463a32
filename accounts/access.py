from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

SIGNED_OUT = "You were signed out. Sign in again to go on; what you typed is kept in this browser."


def requires(permission: str):
    """Login on every page, then the role's permission; a refusal names what is missing (accounts.errors).

    A page request without a session goes to the sign-in page. A request the page itself makes (htmx: a
    poll, a send) gets 401 instead, which the page shows as a "you were signed out" notice: never the
    sign-in page nested in a panel, and never the typed text lost."""

    def decorator(view):
        @wraps(view)
        def checked(request, *args, **kwargs):
            if not request.user.is_authenticated:
                if getattr(request, "htmx", False):
                    response = HttpResponse(SIGNED_OUT, status=401, content_type="text/plain; charset=utf-8")
                    response["HX-Trigger"] = "signed-out"
                    return response
                return redirect_to_login(request.get_full_path())
            if not request.user.has_perm(permission):
                raise PermissionDenied(permission)
            return view(request, *args, **kwargs)

        return checked

    return decorator
