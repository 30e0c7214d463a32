"""The reports area. Views are thin: parse the period, call one selector, render the page or one of its
tables as CSV (`?format=csv&table=<slug>`, with the same filters, so the file is the table on screen).

Every page and every CSV needs `reports.view_reports`; whose figures it shows follows
`reports.view_team_reports` (reports.selectors.Scope)."""

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import requires
from reports import selectors
from reports.forms import PeriodForm

VIEW_REPORTS = "reports.view_reports"

PAGES = {
    "conversations": {
        "title": "Conversations",
        "lead": "Billable conversations opened in the period: per day and category, who opened them, where "
        "the customers are, what is open right now, how long they lasted, and what free-entry points "
        "closed early.",
    },
    "windows": {
        "title": "Customer service windows",
        "lead": "Every customer message that found no window open opened one for 24 hours. Was it answered "
        "in time, how fast, which were lost, and how often a template was the only way to reply.",
    },
    "costs": {
        "title": "Estimated cost",
        "lead": "The period priced with the rate card, per conversation (the model until June 2025) and "
        "per message (since July 2025), side by side; what the platform said it charged, and where our "
        "estimate and the platform differ.",
    },
}


@requires(VIEW_REPORTS)
@require_GET
def index(request):
    query = request.GET.urlencode()
    return redirect(reverse("reports:conversations") + (f"?{query}" if query else ""))


def _report_page(name: str):
    @requires(VIEW_REPORTS)
    @require_GET
    def page(request):
        now = timezone.now()
        form = PeriodForm(request.GET if _has_filters(request) else None)
        if request.GET.get("format") == "csv" and (problems := form.problems()):
            # A file of another period than asked would pass for the one asked: say what is wrong instead.
            return _csv_refused(problems)
        period = form.period(tz=ZoneInfo(settings.BUSINESS_TIME_ZONE), now=now)
        report = selectors.REPORTS[name](period=period, scope=selectors.Scope.for_user(request.user), now=now)
        if request.GET.get("format") == "csv":
            return _csv(report, name, request.GET.get("table", ""))
        filters = {key: request.GET[key] for key in ("range", "start", "end") if request.GET.get(key)}
        context = {
            "name": name,
            "page": PAGES[name],
            "pages": PAGES,
            "form": form,
            "report": report,
            "filters": urlencode(filters),
            # Links to the admin's pages (a message's) only for those who may open them.
            "admin_links": request.user.is_staff and request.user.has_perm("conversations.view_message"),
        }
        return render(request, "reports/report.html", context)

    page.__name__ = name
    return page


def _has_filters(request) -> bool:
    return any(request.GET.get(key) for key in ("range", "start", "end"))


def _csv_refused(problems: list[str]) -> HttpResponse:
    lines = ["No CSV: the period asked for cannot be used.", *problems]
    return HttpResponse("\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8")


def _csv(report, name: str, slug: str) -> HttpResponse:
    table = report.tables.get(slug)
    if table is None:
        raise Http404(f"This report has no table “{slug}”.")
    period = report.period
    response = HttpResponse(table.csv(), content_type="text/csv; charset=utf-8")
    filename = f"{name}-{slug}-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


conversations = _report_page("conversations")
windows = _report_page("windows")
costs = _report_page("costs")
