"""Labels on threads, the thread's team, and each agent's available/away switch (issue 15 item 5). Views
are thin: parse, call one domain service (conversations.services.assignment), render the side panel or
the switch. Who may do what is checked here by permission and again by the service where it depends on
the thread (an agent sets the team of a thread nobody else holds)."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.access import requires
from conversations import services
from conversations.exceptions import AssignmentRefused
from conversations.models import Customer, Label, Team
from inbox import selectors

LABEL = "conversations.label_customer"
ASSIGN = "conversations.assign_customer"
REASSIGN = "conversations.reassign_customer"
SET_AVAILABILITY = "conversations.set_availability"


def _id(value) -> int | None:
    return int(value) if value and str(value).isdigit() else None


def list_scope(request) -> tuple[int | None, int | None]:
    """The list's label and team filters (ids; anything else is no filter)."""
    return _id(request.GET.get("label")), _id(request.GET.get("team"))


def side_context(request, customer) -> dict:
    """What the side panel shows about labels and teams, and what this user may change there."""
    user = request.user
    holder = customer.assigned_to_id
    can_reassign = user.has_perm(REASSIGN)
    return {
        "customer_labels": list(customer.labels.order_by("name")),
        "labels": list(selectors.labels()),
        "teams": list(selectors.teams()),
        "can_label": user.has_perm(LABEL),
        "can_reassign": can_reassign,
        # An agent takes a thread nobody holds and gives back their own (and sets the team of either).
        "can_take": user.has_perm(ASSIGN) and holder is None,
        "can_give_back": user.has_perm(ASSIGN) and holder == user.pk,
        "can_set_team": user.has_perm(ASSIGN) and (can_reassign or holder in (None, user.pk)),
    }


def _side(request, customer_id, *, status=200, error=""):
    # The same context as inbox.views' side panel (imported here, not at the top: views imports this).
    from inbox.views import _side_context

    customer = get_object_or_404(Customer.objects.select_related("assigned_to", "team"), pk=customer_id)
    context = {**_side_context(request, customer, now=timezone.now()), "side_error": error}
    response = render(request, "inbox/inbox.html#side", context, status=status)
    if status == 200:
        response["HX-Trigger"] = "assignment-changed"  # the list shows the row's labels and team
    return response


def refused(request, customer_id, message: str):
    """A change the user may not make to this thread (another agent holds it, perhaps since the page
    loaded): 409 with the side panel as it is now and why, which the page swaps in."""
    return _side(request, customer_id, status=409, error=message)


@requires(LABEL)
@require_POST
def add_label(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    label = Label.objects.filter(pk=_id(request.POST.get("label"))).first()
    if label is None:
        return _side(request, customer.pk, status=422, error="Choose a label to add.")
    services.add_label(customer=customer, label=label, by=request.user, now=timezone.now())
    return (
        _side(request, customer.pk) if request.htmx else redirect("inbox:customer", customer_id=customer.pk)
    )


@requires(LABEL)
@require_POST
def remove_label(request, customer_id, label_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    label = get_object_or_404(Label, pk=label_id)
    services.remove_label(customer=customer, label=label)
    return (
        _side(request, customer.pk) if request.htmx else redirect("inbox:customer", customer_id=customer.pk)
    )


@requires(ASSIGN)
@require_POST
def set_team(request, customer_id):
    """The thread's team ("" for none), keeping its agent."""
    customer = get_object_or_404(Customer, pk=customer_id)
    choice = request.POST.get("team", "")
    team = Team.objects.filter(pk=_id(choice)).first()
    if choice and team is None:
        return _side(request, customer.pk, status=422, error="That team does not exist any more.")
    try:
        services.assign(
            customer=customer,
            to=services.assignment.UNCHANGED,  # whoever holds it when the lock is held
            by=request.user,
            now=timezone.now(),
            may_reassign=request.user.has_perm(REASSIGN),
            team=team,
        )
    except AssignmentRefused as error:
        return refused(request, customer.pk, error.message)
    return (
        _side(request, customer.pk) if request.htmx else redirect("inbox:customer", customer_id=customer.pk)
    )


@requires(SET_AVAILABILITY)
@require_POST
def availability(request):
    """The header's switch: available (new threads come in turn) or away (none come; held ones stay)."""
    choice = request.POST.get("available", "")
    if choice not in ("yes", "no"):
        return HttpResponse("Say available (yes) or away (no).", status=422)
    services.set_availability(agent=request.user, available=choice == "yes", now=timezone.now())
    if not request.htmx:
        return redirect("inbox:home")
    return render(request, "inbox/availability.html", {"available": choice == "yes"})
