"""Issue 15, items 3 and 4: private notes with @mentions and their notifications, contact attributes on
the side panel, and canned replies (the `/` list in the reply box and the page where they are kept).

Views are thin, as in inbox.views: parse, call one service or selector, render a partial of
inbox/notes.html (htmx) or a page. Nothing here talks to the platform."""

import json

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import requires
from conversations import services
from conversations.exceptions import AttributeInvalid
from conversations.models import Customer
from conversations.selectors import attribute_keys, attributes_of
from inbox import canned, notes
from inbox.models import CannedReply, Note, Notification

VIEW = "conversations.view_customer"
WRITE_NOTES = "inbox.add_note"
EDIT_ATTRIBUTES = "conversations.change_contactattributevalue"
READ_REPLIES = "inbox.view_cannedreply"
OWN_REPLIES = "inbox.add_cannedreply"
TEAM_REPLIES = "inbox.manage_team_replies"


def note_form_context(request, customer, *, error="", draft="", added=None) -> dict:
    """The note box under the compose area, with the colleagues its @ autocomplete offers."""
    people = [
        {"username": p.get_username(), "name": p.get_full_name() or p.get_username()}
        for p in notes.colleagues()
        if p.pk != request.user.pk
    ]
    return {
        "customer": customer,
        "can_write_notes": request.user.has_perm(WRITE_NOTES),
        "colleagues_json": json.dumps(people, separators=(",", ":")),
        "note_error": error,
        "note_draft": draft,
        "note_added": added,
        "note_max_chars": notes.NOTE_MAX_CHARS,
    }


def side_extra(request, customer) -> dict:
    """What the side panel's contact fields need (two queries)."""
    return {
        "attributes": attributes_of(customer),
        "can_edit_attributes": request.user.has_perm(EDIT_ATTRIBUTES),
    }


# --- Notes ----------------------------------------------------------------------------------------------


@requires(WRITE_NOTES)
@require_POST
def add_note(request, customer_id):
    """A private note in the thread: recorded for colleagues, never sent. The box comes back empty (or,
    refused, with the text kept and why); the thread refreshes itself (note-added)."""
    customer = get_object_or_404(Customer, pk=customer_id)
    body = request.POST.get("note", "")
    try:
        note = notes.add_note(customer=customer, author=request.user, body=body, now=timezone.now())
    except notes.NoteInvalid as error:
        context = note_form_context(request, customer, error=str(error), draft=body)
        return render(request, "inbox/notes.html#note-form", context, status=422)
    if not request.htmx:
        return redirect("inbox:customer", customer_id=customer.pk)
    response = render(request, "inbox/notes.html#note-form", note_form_context(request, customer, added=note))
    response["HX-Trigger"] = "note-added"
    return response


@requires(WRITE_NOTES)
@require_POST
def delete_note(request, customer_id, note_id):
    note = get_object_or_404(Note, pk=note_id, customer_id=customer_id)
    try:
        notes.delete_note(note=note, user=request.user)
    except notes.NotYourNote as error:
        return HttpResponse(str(error), status=403, content_type="text/plain; charset=utf-8")
    if not request.htmx:
        return redirect("inbox:customer", customer_id=customer_id)
    response = HttpResponse(status=204)
    response["HX-Trigger"] = "note-added"
    return response


# --- Notifications -------------------------------------------------------------------------------------


@requires(VIEW)
@require_GET
def bell(request):
    """The header's bell with the unread count: one query, polled by the page (static/inbox/notes.js)."""
    return render(request, "inbox/notes.html#bell", {"unread": notes.unread_count(request.user)})


@requires(VIEW)
@require_GET
def notification_list(request):
    listed = list(notes.notifications_of(request.user))
    return render(request, "inbox/notifications.html", {"notifications": listed})


@requires(VIEW)
@require_POST
def open_notification(request, notification_id):
    """Marks it read and goes to the thread, at the note. Only the user's own (404 otherwise)."""
    notification = get_object_or_404(Notification, pk=notification_id, user=request.user)
    notes.open_notification(notification=notification, now=timezone.now())
    url = reverse("inbox:customer", args=[notification.customer_id])
    return redirect(f"{url}#note-{notification.note_id}")


# --- Contact attributes -------------------------------------------------------------------------------


@requires(EDIT_ATTRIBUTES)
@require_POST
def set_attribute(request, customer_id, key):
    """An agent's inline change of one contact field: the field comes back with its new value and who
    changed it, or (422) with the value as typed and why it does not fit."""
    customer = get_object_or_404(Customer, pk=customer_id)
    value = request.POST.get("value", "")
    error = ""
    status = 200
    try:
        services.set_attribute(customer=customer, key=key, value=value, by=request.user, now=timezone.now())
    except AttributeInvalid as refusal:
        error, status = refusal.message, 422
    shown = next((a for a in attributes_of(customer) if a.attribute.key == key), None)
    if shown is None:
        raise Http404("No such contact field.")
    if not request.htmx:
        return redirect("inbox:customer", customer_id=customer.pk)
    context = {
        "customer": customer,
        "item": shown,
        "error": error,
        "typed": value,
        "can_edit_attributes": True,
    }
    return render(request, "inbox/notes.html#attribute", context, status=status)


# --- Canned replies -------------------------------------------------------------------------------------


@requires(READ_REPLIES)
@require_GET
def canned_for_customer(request, customer_id):
    """What `/` in the reply box offers: the agent's replies and the team's, filled for this customer
    (what has no value is left as {{…}} and listed in `missing`). Three queries."""
    customer = get_object_or_404(Customer, pk=customer_id)
    values = canned.values_for(customer, request.user)
    replies = []
    for reply in canned.offered_to(request.user):
        filled = canned.fill(reply.body, values)
        replies.append(
            {
                "id": reply.pk,
                "title": reply.title,
                "team": reply.is_team,
                "text": filled.text,
                "missing": filled.missing,
            }
        )
    return JsonResponse({"replies": replies})


def _replies_context(request, *, error="", form=None, editing=None):
    user = request.user
    manages_team = user.has_perm(TEAM_REPLIES)
    sees_all = manages_team or not user.has_perm(OWN_REPLIES)  # supervisors and admins read every agent's
    listed = list(canned.listed_for(user, sees_all=sees_all))
    for reply in listed:
        reply.changeable = canned.may_change(user, reply, manages_team=manages_team)
    return {
        "replies": listed,
        "can_add_own": user.has_perm(OWN_REPLIES),
        "manages_team": manages_team,
        "error": error,
        "form": form or {},
        "editing": editing,
        "variables": canned.BUILT_IN,
        "attribute_keys": attribute_keys(),
    }


@requires(READ_REPLIES)
@require_http_methods(["GET", "POST"])
def replies(request):
    """The canned replies page: the agent's own and the team's (every agent's too, read-only, for
    supervisors and admins); POST adds one (personal for agents, the team's for admins)."""
    if request.method == "GET":
        return render(request, "inbox/replies.html", _replies_context(request))
    team = request.POST.get("scope") == "team"
    needed = TEAM_REPLIES if team else OWN_REPLIES
    if not request.user.has_perm(needed):
        raise PermissionDenied(needed)
    return _save(request, reply=None, team=team)


def _save(request, *, reply, team):
    form = {
        "title": request.POST.get("title", ""),
        "body": request.POST.get("body", ""),
        "scope": request.POST.get("scope", ""),
    }
    try:
        canned.save(
            user=request.user,
            title=form["title"],
            body=form["body"],
            team=team,
            manages_team=request.user.has_perm(TEAM_REPLIES),
            now=timezone.now(),
            reply=reply,
        )
    except canned.CannedReplyInvalid as error:
        context = _replies_context(request, error=str(error), form=form, editing=reply)
        return render(request, "inbox/replies.html", context, status=422)
    except canned.NotYours as error:
        raise PermissionDenied(str(error)) from None
    return redirect("inbox:replies")


@requires(READ_REPLIES)
@require_http_methods(["GET", "POST"])
def edit_reply(request, reply_id):
    """One canned reply in the page's form: its owner (the team's: an admin) changes it."""
    reply = get_object_or_404(CannedReply, pk=reply_id)
    manages_team = request.user.has_perm(TEAM_REPLIES)
    if not canned.may_change(request.user, reply, manages_team=manages_team):
        raise PermissionDenied("This canned reply is not yours to change.")
    if request.method == "GET":
        form = {"title": reply.title, "body": reply.body}
        return render(request, "inbox/replies.html", _replies_context(request, form=form, editing=reply))
    return _save(request, reply=reply, team=reply.is_team)


@requires(READ_REPLIES)
@require_POST
def delete_reply(request, reply_id):
    reply = get_object_or_404(CannedReply, pk=reply_id)
    try:
        canned.delete(user=request.user, reply=reply, manages_team=request.user.has_perm(TEAM_REPLIES))
    except canned.NotYours as error:
        raise PermissionDenied(str(error)) from None
    return redirect("inbox:replies")
