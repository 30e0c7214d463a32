"""The project's own endpoint for monitors. /healthz (inbox.views) stays the load balancer's cheap
"the database answers": a stale worker is no reason to take the web servers out of rotation."""

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config import health


@require_GET
@never_cache
def healthz_deep(request):
    """200 when a worker ran the beat schedule recently and no outbound message waits too long; 503
    otherwise, with the JSON saying which."""
    report = health.health_report(now=timezone.now())
    return JsonResponse(report.as_json(), status=200 if report.ok else 503)
