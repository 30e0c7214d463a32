"""The thread's status in the team's work (issue 15): resolve, snooze, mark pending, reopen, from the
thread's header. Thin views: parse, call one conversations service, render the status partial
(`inbox/workflow.html#status`). The server decides; a resolve that would leave an unanswered customer
behind while a reply is still possible answers 409 with the warning until it is confirmed."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import requires
from conversations import policy, services
from conversations.exceptions import DomainError, ResolveNeedsConfirmation
from conversations.models import Customer, ThreadStatus

VIEW = "conversations.view_customer"
CHANGE_STATUS = "conversations.change_thread_status"

STATUS_LABELS = {
    ThreadStatus.OPEN: "Open",
    ThreadStatus.PENDING: "Pending: waiting for the customer",
    ThreadStatus.SNOOZED: "Snoozed",
    ThreadStatus.RESOLVED: "Resolved",
}
SNOOZE_HOUR = timedelta(hours=1)
SNOOZE_MORNING = time(9, 0)  # "tomorrow 09:00" in the agent's own time zone
SNOOZE_LONGEST = timedelta(days=90)


class BadSnooze(ValueError):
    pass


def snooze_until(choice: str, chosen: str, *, now: datetime, tz) -> datetime:
    """When a snooze asked as `choice` ends: in an hour, tomorrow at 09:00 in the agent's time zone
    `tz`, or the `chosen` local date and time (an <input type="datetime-local"> value, in `tz`)."""
    if choice == "hour":
        return now + SNOOZE_HOUR
    if choice == "tomorrow":
        tomorrow = now.astimezone(tz).date() + timedelta(days=1)
        return datetime.combine(tomorrow, SNOOZE_MORNING, tzinfo=tz)
    try:
        local = datetime.fromisoformat(chosen.strip())
    except ValueError:
        raise BadSnooze("Choose when the snooze ends: a date and a time.") from None
    until = local if local.tzinfo else local.replace(tzinfo=tz)
    if until - now > SNOOZE_LONGEST:
        raise BadSnooze("A snooze can last 90 days at most: choose an earlier time.")
    return until


def status_context(request, customer: Customer, *, now: datetime) -> dict:
    """What the status partial shows: the thread's status at `now` (a snooze that ended is open) and
    whether this user may change it."""
    status = policy.thread_status_at(customer.status, customer.snoozed_until, now)
    return {
        "thread_status": status,
        "thread_status_label": STATUS_LABELS[status],
        "can_change_status": request.user.has_perm(CHANGE_STATUS),
        "now": now,
    }


def _render_status(request, customer, *, now, status=200, warning="", error=""):
    context = {
        "customer": customer,
        **status_context(request, customer, now=now),
        "warning": warning,
        "error": error,
    }
    response = render(request, "inbox/workflow.html#status", context, status=status)
    if status == 200 and request.method == "POST":
        response["HX-Trigger"] = "status-changed"  # the list follows (inbox.js polls it)
    return response


@requires(VIEW)
@require_GET
def thread_status(request, customer_id):
    """The status partial, refreshed when the thread shows the customer wrote (it reopens the thread)."""
    customer = get_object_or_404(Customer.objects.select_related("status_changed_by"), pk=customer_id)
    return _render_status(request, customer, now=timezone.now())


@requires(CHANGE_STATUS)
@require_POST
def change_status(request, customer_id):
    """Resolve (with `confirm` when warned), snooze (`snooze`: hour, tomorrow or a chosen `until`), mark
    pending, reopen. Refused: 409 with the warning to confirm, 422 with why for a bad snooze time."""
    customer = get_object_or_404(Customer, pk=customer_id)
    # The snooze buttons name when it ends (`snooze`); the others name the action.
    action = request.POST.get("action") or ("snooze" if request.POST.get("snooze") else "")
    now = timezone.now()
    try:
        if action == "resolve":
            confirm = request.POST.get("confirm") == "1"
            customer = services.resolve(customer=customer, agent=request.user, confirm=confirm, now=now)
        elif action == "snooze":
            until = snooze_until(
                request.POST.get("snooze", ""),
                request.POST.get("until", ""),
                now=now,
                tz=timezone.get_current_timezone(),
            )
            customer = services.snooze(customer=customer, until=until, agent=request.user, now=now)
        elif action == "pending":
            customer = services.mark_pending(customer=customer, agent=request.user, now=now)
        elif action == "reopen":
            customer = services.reopen(customer=customer, agent=request.user, now=now)
        else:
            return HttpResponse("Choose resolve, snooze, pending or reopen.", status=400)
    except ResolveNeedsConfirmation as warning:
        return _render_status(request, customer, now=now, status=409, warning=warning.message)
    except (BadSnooze, DomainError) as error:
        message = getattr(error, "message", None) or str(error)
        return _render_status(request, customer, now=now, status=422, error=message)
    if not request.htmx:
        return redirect("inbox:customer", customer_id=customer.pk)
    return _render_status(request, customer, now=now)
