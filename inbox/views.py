"""The agent inbox. Views are thin: parse, call one selector or service, render the page or one of its
partials (`inbox/inbox.html#name`) for htmx. Every rule is decided by conversations.policy on the server;
the templates only display what it decided."""

import json
import mimetypes
import uuid
from urllib.parse import urlencode

from django.db import connection
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import requires
from conversations import policy, services
from conversations.exceptions import (
    AssignmentRefused,
    DomainError,
    TargetMessageInvalid,
    TemplateParamsInvalid,
    WindowClosed,
)
from conversations.limits import TEXT_MAX_CHARS
from conversations.models import Customer
from conversations.selectors import preview_send
from inbox import collision, notes_views, presence, ranges, rendering, selectors, team_views, workflow_views
from inbox import services as inbox_services
from inbox.forms import AttachmentSendForm, TemplateSendForm, TextSendForm
from templates_app import selectors as template_selectors
from templates_app.models import MessageTemplate
from templates_app.statuses import known_statuses
from whatsapp import media_types, reading

# The platform's limits on files agents send, for the browser's immediate check (static/inbox/attach.js);
# the server checks the bytes again whatever the browser said.
ATTACH_LIMITS = json.dumps(media_types.outbound_limits(), separators=(",", ":"))

VIEW = "conversations.view_customer"
VIEW_TEMPLATES = "templates_app.view_messagetemplate"
SEND = "conversations.send_message"
ASSIGN = "conversations.assign_customer"


@require_GET
@never_cache
def healthz(request):
    """Liveness and readiness for load balancers and docker health checks: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


# The worklist an agent lands on (issue 15): the customers waiting for a reply while one can still be sent.
DEFAULT_VIEW = selectors.Filter.NEEDS_REPLY


def _list_params(request) -> tuple[selectors.Filter, str]:
    try:
        view = selectors.Filter(request.GET.get("view", DEFAULT_VIEW))
    except ValueError:
        view = DEFAULT_VIEW
    return view, request.GET.get("q", "")[:100]


def _list_context(request, *, selected=None, now, through=None):
    view, search = _list_params(request)
    label, team = team_views.list_scope(request)
    cursor = selectors.Cursor.decode(request.GET.get("before"))
    page = selectors.inbox_page(
        user=request.user,
        view=view,
        search=search,
        cursor=cursor,
        through=through,
        now=now,
        label=label,
        team=team,
    )
    day = timezone.localdate(now)  # "14:05" becomes "Mon 14:05" at midnight: a new day is news
    return {
        "page": page,
        "view": view,
        "views": list(selectors.Filter),
        "search": search,
        "selected": selected,
        "now": now,
        "label_filter": label,
        "team_filter": team,
        "labels": list(selectors.labels()),
        "teams": list(selectors.teams()),
        "list_version": page.version(view, search, selected.pk if selected else None, day, label, team),
        # What a row's link carries, so that the list a customer was opened from comes back on a reload,
        # a bookmark or Back: the view, the search, the label and team filters.
        "list_query": urlencode(
            {"view": view.value, **{k: v for k, v in (("q", search), ("label", label), ("team", team)) if v}}
        ),
    }


def _side_context(request, customer, *, now):
    """What the side panel and the compose area show (no thread: the side panel refreshes on its own)."""
    return {
        "customer": customer,
        "compose": selectors.compose(customer, now=now),
        "can_send": request.user.has_perm(SEND),
        "can_assign": request.user.has_perm(ASSIGN),
        "agents": list(selectors.agents()),
        **team_views.side_context(request, customer),
        "client_token": uuid.uuid4(),
        "text_max_chars": TEXT_MAX_CHARS,
        "attach_limits": ATTACH_LIMITS,
        **notes_views.side_extra(request, customer),
    }


def _customer_context(request, customer, *, now):
    thread = selectors.thread(customer, now=now, tz=timezone.get_current_timezone())
    side = _side_context(request, customer, now=now)
    actions = side["can_send"] and side["compose"].window.is_open
    rendering.prerender(
        thread, tz=timezone.get_current_timezone(), today=timezone.localdate(now), actions=actions
    )
    notes_box = notes_views.note_form_context(request, customer)
    return {
        **side,
        **notes_box,
        **workflow_views.status_context(request, customer, now=now),
        "thread": thread,
        "thread_version": _thread_version(thread, customer, now),
    }


def _offers_actions(request, customer, now) -> bool:
    """Reply and React are offered to who may send, inside the window (R2: templates only outside it;
    the page hides them when the window closes under it, the server refuses them anyway)."""
    return request.user.has_perm(SEND) and selectors.window_of(customer, now).is_open


@requires(VIEW)
@require_GET
def inbox(request, customer_id=None):
    """The whole screen: the list, and the selected customer's thread, side panel and compose area."""
    now = timezone.now()
    customer = (
        get_object_or_404(
            Customer.objects.select_related("assigned_to", "status_changed_by", "team"), pk=customer_id
        )
        if customer_id
        else None
    )
    if customer is not None:
        # Before the list, so its unread count is right.
        inbox_services.mark_seen(customer=customer, agent=request.user, now=now)
    if request.htmx and request.htmx.target == "workspace" and not request.htmx.history_restore_request:
        # A customer opened from the list: only the thread, compose area and side panel; the list the
        # agent has scrolled and loaded stays (its poll brings the unread count down).
        context = {"customer": customer, "view": _list_params(request)[0], "now": now}
        if customer is not None:
            context.update(_customer_context(request, customer, now=now))
        return render(request, "inbox/inbox.html#workspace", context)
    context = _list_context(request, selected=customer, now=now)
    if customer is not None:
        context.update(_customer_context(request, customer, now=now))
    return render(request, "inbox/inbox.html", context)


@requires(VIEW)
@require_GET
def customer_list(request):
    """The list partial: filters and search, "older" pages (keyset), and the poll every few seconds.
    The poll names the last row the page shows (`through`) and the version it shows (`v`): when nothing
    it shows changed, whatever the clock says, it gets 204 without anything being rendered; otherwise
    the rows down to `through`, which static/inbox/inbox.js merges in place (only changed rows replaced)."""
    now = timezone.now()
    chosen = request.GET.get("selected", "")
    selected = Customer.objects.filter(pk=chosen).first() if chosen.isdigit() else None
    through = (
        selectors.Cursor.END
        if request.GET.get("through") == "end"
        else selectors.Cursor.decode(request.GET.get("through"))
    )
    context = _list_context(request, selected=selected, now=now, through=through)
    if request.GET.get("before"):
        return render(request, "inbox/inbox.html#rows", context)
    if request.GET.get("v") == context["list_version"]:
        return HttpResponse(status=204)
    return render(request, "inbox/inbox.html#customer-list", {**context, "oob": True})


@requires(VIEW)
@require_GET
def thread(request, customer_id):
    """The thread partial (polled for new messages and ticks); 204 when nothing changed."""
    customer = get_object_or_404(Customer, pk=customer_id)
    now = timezone.now()
    context = {
        "customer": customer,
        "thread": selectors.thread(
            customer,
            now=now,
            tz=timezone.get_current_timezone(),
            before=request.GET.get("before"),
            since=request.GET.get("since"),
        ),
    }
    if not request.GET.get("before"):
        context["thread_version"] = _thread_version(context["thread"], customer, now)
        if request.GET.get("v") == context["thread_version"]:
            return HttpResponse(status=204)
    rendering.prerender(
        context["thread"],
        tz=timezone.get_current_timezone(),
        today=timezone.localdate(now),
        actions=_offers_actions(request, customer, now),
    )
    if request.GET.get("before"):
        return render(request, "inbox/inbox.html#earlier", context)
    inbox_services.mark_seen(customer=customer, agent=request.user, now=now)
    return render(request, "inbox/inbox.html#thread", context)


def _thread_version(thread, customer, now) -> str:
    """What the thread shows, as data: its items, the agent's day ("Today" becomes "Yesterday" at
    midnight) and the window's data (data-window-key), never the clock."""
    window = (customer.last_inbound_at, customer.platform_window_closed_at)
    return thread.version(timezone.localdate(now), window)


@requires(VIEW)
@require_GET
def side_panel(request, customer_id):
    customer = get_object_or_404(Customer.objects.select_related("assigned_to", "team"), pk=customer_id)
    return render(request, "inbox/inbox.html#side", _side_context(request, customer, now=timezone.now()))


@requires(VIEW)
@require_GET
def compose(request, customer_id):
    """The compose area as the server sees it now: the countdown asks for it when it reaches zero, and
    the page when the thread shows the customer wrote. A template being filled in comes back with its
    values, so the switch between free-form and template-only loses nothing the agent chose or typed."""
    customer = get_object_or_404(Customer, pk=customer_id)
    template = MessageTemplate.objects.filter(
        pk=request.GET.get("template") or None, status=policy.SENDABLE_TEMPLATE_STATUS
    ).first()
    if template is None or template.not_sendable_from_inbox:
        return _render_compose(request, customer)
    form = TemplateSendForm(template, customer, request.GET)
    return _render_compose(request, customer, template_form=form, problems_shown=False)


def _render_compose(
    request,
    customer,
    *,
    status=200,
    error=None,
    draft="",
    sent=None,
    template_form=None,
    problems_shown=True,
    reply=None,
    collision=None,
):
    context = {
        "reply": reply,
        # Colleagues' replies since this agent's compose area was drawn: shown, with "Send anyway"; the
        # form keeps the instant it was first drawn, so a plain Send warns again (collision.py).
        "collision": collision,
        "loaded_at": collision and request.POST.get("loaded_at"),
        "customer": customer,
        "compose": selectors.compose(customer, now=timezone.now()),
        "can_send": request.user.has_perm(SEND),
        "client_token": uuid.uuid4(),
        "text_max_chars": TEXT_MAX_CHARS,
        "attach_limits": ATTACH_LIMITS,
        "error": error,
        "draft": draft,
        "sent": sent,
        "template_form": template_form,
    }
    if template_form is not None:
        # A refused template comes back with its fields as typed, its preview and what is missing.
        context["preview"], context["problems"] = template_form.preview()
        if not problems_shown:
            context["problems"] = []
        context["decision"] = preview_send(customer, template=template_form.template)
    response = render(request, "inbox/inbox.html#compose", context, status=status)
    if sent is not None:
        response["HX-Trigger"] = "message-sent"  # the thread and the list refresh themselves
    elif status == 409 and not collision:
        response["HX-Trigger"] = "window-refused"  # the side panel and the list show the closed window
    return response


@requires(SEND)
@require_POST
def send_text(request, customer_id):
    """A free-form reply: the text, or a file with the text as its caption."""
    customer = get_object_or_404(Customer, pk=customer_id)
    if request.FILES:
        return _send_attachment(request, customer)
    form = TextSendForm(request.POST)
    if not form.is_valid():
        reply = selectors.reply_preview(customer, request.POST.get("reply_to"))
        draft = request.POST.get("body", "")
        return _render_compose(
            request, customer, status=422, error=form.error_text(), draft=draft, reply=reply
        )
    body, reply_to = form.cleaned_data["body"], form.cleaned_data["reply_to"] or None
    if collided := collision.replies_since_loaded(request, customer):
        reply = selectors.reply_preview(customer, reply_to)
        return _render_compose(request, customer, status=409, draft=body, reply=reply, collision=collided)
    try:
        message = services.send_text(
            customer=customer,
            body=body,
            reply_to=reply_to,
            agent=request.user,
            client_token=form.cleaned_data["client_token"],
        )
    except DomainError as error:
        status = _refusal_status(error)
        reply = selectors.reply_preview(customer, reply_to) if status == 422 else None  # the quote stays
        return _render_compose(request, customer, status=status, error=error.message, draft=body, reply=reply)
    return _render_compose(request, customer, sent=message)


def _refusal_status(error: DomainError) -> int:
    """How a refused free-form send (a text or a file) is answered; what the agent typed is kept either
    way. 409: the window closed since the page loaded (a stale tab), and the compose area comes back in
    template-only mode; 400: the quoted message is not this customer's, or WhatsApp has no id for it
    (sent again without the quote); 422: anything else the agent can put right."""
    if isinstance(error, WindowClosed):
        return 409
    if isinstance(error, TargetMessageInvalid):
        return 400
    return 422


def _send_attachment(request, customer):
    """A file the agent picked or dropped: checked from its bytes against what the platform takes (the
    browser's own check is a courtesy), then sent like a text (R2: 409 outside the window). A refused
    file comes back with the reason in words and the typed caption kept."""
    caption = request.POST.get("body", "")
    form = AttachmentSendForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_compose(request, customer, status=422, error=form.error_text(), draft=caption)
    upload = form.cleaned_data["file"]
    upload.seek(0)
    head = upload.read(media_types.SNIFF_BYTES)
    upload.seek(0)
    announced = upload.content_type or mimetypes.guess_type(upload.name or "")[0] or ""
    try:
        kind, content_type = media_types.check_outbound(head, upload.size, announced=announced)
    except media_types.Refused as refusal:
        error = f"“{upload.name}” was not sent: {refusal} Choose another file."
        return _render_compose(request, customer, status=422, error=error, draft=caption)
    if collided := collision.replies_since_loaded(request, customer):
        return _render_compose(request, customer, status=409, draft=caption, collision=collided)
    try:
        message = services.send_attachment(
            customer=customer,
            content=upload,
            filename=upload.name or "",
            kind=kind,
            content_type=content_type,
            size=upload.size,
            caption=caption,
            reply_to=request.POST.get("reply_to") or None,
            agent=request.user,
            client_token=form.cleaned_data["client_token"],
        )
    except DomainError as error:
        status = _refusal_status(error)
        return _render_compose(request, customer, status=status, error=error.message, draft=caption)
    return _render_compose(request, customer, sent=message)


@requires(SEND)
@require_POST
def react(request, customer_id):
    """Our emoji on a customer's message (or "" to remove it), queued like a text. Sent: 204, and the
    thread and the list refresh themselves; refused: the compose area with why (409 when the window is
    closed, in template-only mode; 400 for a message or an emoji that cannot be)."""
    customer = get_object_or_404(Customer, pk=customer_id)
    try:
        services.send_reaction(
            customer=customer,
            message=request.POST.get("message", ""),
            emoji=request.POST.get("emoji", ""),
            agent=request.user,
        )
    except WindowClosed as error:
        return _render_compose(request, customer, status=409, error=error.message)
    except DomainError as error:
        return _render_compose(request, customer, status=400, error=error.message)
    response = HttpResponse(status=204)
    response["HX-Trigger"] = "message-sent"
    return response


@requires(SEND)
@require_POST
def typing(request, customer_id):
    """The agent is typing a reply: WhatsApp shows the customer "typing…" (at most every 20 s per
    customer, inside the window, on their latest message: whatsapp.reading). 202 when asked for, 204 when
    nothing was needed; the page never waits for it."""
    customer = get_object_or_404(Customer, pk=customer_id)
    outcome = reading.request_typing_indicator(customer, now=timezone.now())
    response = HttpResponse(status=202 if outcome == "queued" else 204)
    response["X-Typing-Indicator"] = outcome
    return response


@requires(SEND)
@require_POST
def send_template(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    template = MessageTemplate.objects.filter(pk=request.POST.get("template") or None).first()
    if template is None:
        return _render_compose(request, customer, status=422, error="Choose a template to send.")
    form = TemplateSendForm(template, customer, request.POST)
    if not form.is_valid():
        return _render_compose(request, customer, status=422, error=form.error_text(), template_form=form)
    if collided := collision.replies_since_loaded(request, customer):
        return _render_compose(request, customer, status=409, template_form=form, collision=collided)
    try:
        message = services.send_template(
            customer=customer,
            template=template,
            params=form.params(),
            extras=form.extras(),
            agent=request.user,
            client_token=form.cleaned_data["client_token"],
        )
    except TemplateParamsInvalid as error:
        return _render_compose(request, customer, status=422, error=error.message, template_form=form)
    except DomainError as error:
        return _render_compose(request, customer, status=409, error=error.message, template_form=form)
    return _render_compose(request, customer, sent=message)


@requires(VIEW)
def template_form(request, customer_id):
    """The chosen template's parameter fields, its live preview, and what sending it will do to the
    customer's conversations, computed by the same policy the send uses."""
    customer = get_object_or_404(Customer, pk=customer_id)
    template = MessageTemplate.objects.filter(
        pk=(request.POST or request.GET).get("template") or None, status=policy.SENDABLE_TEMPLATE_STATUS
    ).first()
    if template is None:
        return render(request, "inbox/inbox.html#template-fields", {"template": None, "customer": customer})
    if template.not_sendable_from_inbox:  # a carousel, a product header…: the partial says why
        return render(
            request, "inbox/inbox.html#template-fields", {"template": template, "customer": customer}
        )
    form = TemplateSendForm(template, customer, request.POST or None)
    preview, problems = form.preview()
    decision = preview_send(customer, template=template)
    partial = "template-preview" if request.method == "POST" else "template-fields"
    return render(
        request,
        f"inbox/inbox.html#{partial}",
        {
            "template": template,
            "customer": customer,
            "form": form,
            "preview": preview,
            "problems": problems,
            "decision": decision,
        },
    )


@requires(ASSIGN)
@require_POST
def assign(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    choice = request.POST.get("agent", "")
    if choice == "me":
        to = request.user
    elif choice == "":
        to = None
    else:
        to = inbox_services.agent_by_id(choice) if choice.isdigit() else None
        if to is None:
            return HttpResponse("That agent cannot be assigned customers.", status=422)
    try:
        inbox_services.assign(customer=customer, to=to, by=request.user)
    except inbox_services.NotAnAgent as error:
        return HttpResponse(str(error), status=422)
    except AssignmentRefused as error:
        # Someone else's thread (taken meanwhile, or never this agent's): the side panel as it is now.
        return team_views.refused(request, customer.pk, error.message)
    if not request.htmx:
        return redirect("inbox:customer", customer_id=customer.pk)
    customer.refresh_from_db()
    response = render(request, "inbox/inbox.html#side", _side_context(request, customer, now=timezone.now()))
    response["HX-Trigger"] = "assignment-changed"
    return response


@requires(VIEW_TEMPLATES)
@require_GET
def template_catalogue(request):
    """The template catalogue, read-only: what agents can send, and why the others cannot be sent."""
    catalogue = template_selectors.catalogue(search=request.GET.get("q", "").strip()[:100])
    return render(request, "inbox/templates.html", {"catalogue": catalogue, "statuses": known_statuses()})


# A customer's file is the customer's content, never our page: no script, no plugin, no form, no frame,
# whatever a browser makes of it (it is also served with the type its bytes are, and nosniff).
MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"


@requires(VIEW)
@require_GET
def media(request, customer_id, message_id):
    """A customer's file, streamed through the app to whoever may read the thread (never from a public
    URL): shown inline when it is a picture or a recording of a media message, downloaded otherwise."""
    kept = selectors.stored_media(customer_id=customer_id, message_id=message_id)
    if kept is None:
        raise Http404("No such file.")
    inline = kept.kind != "document" and media_types.is_inline(kept.content_type)
    extension = mimetypes.guess_extension(kept.content_type) or ""
    name = (
        kept.filename if kept.kind == "document" and kept.filename else f"{kept.kind}-{message_id}{extension}"
    )
    size = kept.size if kept.size is not None else kept.file.size
    # A validator we do not give (If-Range) cannot match: the whole file, as the RFC asks.
    asked = None if "If-Range" in request.headers else request.headers.get("Range")
    try:
        span = ranges.requested(asked, size)
    except ranges.Unsatisfiable:
        return ranges.unsatisfiable(size)
    if span is None:
        response = FileResponse(
            kept.file.open("rb"), content_type=kept.content_type, as_attachment=not inline, filename=name
        )
    else:  # a voice note or a video seeked in the player
        response = ranges.partial(kept.file.open("rb"), span, size, kept.content_type)
        response["Content-Disposition"] = content_disposition_header(not inline, name)
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@requires(VIEW)
@require_POST
def presence_report(request, customer_id):
    """This agent has the thread open (typing a reply when `typing` is set); the answer names the
    colleagues on the same thread now, viewing or typing (polled every few seconds by the thread page)."""
    customer = get_object_or_404(Customer.objects.only("pk"), pk=customer_id)
    typing = request.POST.get("typing") == "1" and request.user.has_perm(SEND)
    colleagues = presence.report(customer.pk, request.user, typing=typing, now=timezone.now())
    return render(request, "inbox/inbox.html#presence", {"colleagues": colleagues})
