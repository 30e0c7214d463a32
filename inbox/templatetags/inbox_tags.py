"""Display helpers: times in the agent's zone with the exact time on hover, countdowns the page's
script ticks, delivery ticks. They display what the server computed; they decide nothing."""

import re
from dataclasses import replace
from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

from inbox import selectors
from templates_app.placeholders import Part

register = template.Library()

EXACT = "%a %-d %b %Y, %H:%M:%S %Z"


def _local(moment):
    return timezone.localtime(moment)


@register.simple_tag
def when(moment, now=None):
    """A short local time (today: 14:05; this week: Tue 14:05; else 3 Jan 2026), exact on hover."""
    if moment is None:
        return "—"
    local = _local(moment)
    today = _local(now or timezone.now()).date()
    if local.date() == today:
        short = f"{local:%H:%M}"
    elif (today - local.date()).days < 7:
        short = f"{local:%a %H:%M}"
    else:
        short = f"{local:%-d %b %Y}"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', moment.isoformat(), f"{local:{EXACT}}", short
    )


@register.simple_tag
def exact(moment):
    return f"{_local(moment):{EXACT}}" if moment else ""


@register.filter
def duration(delta: timedelta | None) -> str:
    """2 days, 5 hours, 12 minutes, 40 seconds: the largest unit that fits."""
    if delta is None:
        return ""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


@register.simple_tag
def countdown(closes_at, now, *, warn_within=3600, event="window-closed"):
    """A countdown to `closes_at` that static/inbox/inbox.js ticks every second. The server's remaining
    time is the text until the script runs; at zero the script fires `event` on the element."""
    remaining = max(timedelta(0), closes_at - now)
    return format_html(
        '<time data-window-countdown datetime="{}" data-warn-within="{}" data-event="{}" '
        'title="Closes {}">{}</time>',
        closes_at.isoformat(),
        warn_within,
        event,
        f"{_local(closes_at):{EXACT}}",
        clock(remaining),
    )


def clock(remaining: timedelta) -> str:
    seconds = int(remaining.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours >= 24:
        days, hours = divmod(hours, 24)
        return f"{days}d {hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


TICKS = {
    "queued": ("◷", "Queued: waiting to be handed to WhatsApp"),
    "sending": ("◷", "Handing to WhatsApp"),
    "sent": ("✓", "Sent"),
    "delivered": ("✓✓", "Delivered"),
    "read": ("✓✓", "Read"),
    "failed": ("!", "Failed"),
}


@register.simple_tag
def ticks(message):
    symbol, label = TICKS.get(message.status, ("", message.get_status_display()))
    moment = {"sent": message.sent_at, "delivered": message.delivered_at, "read": message.read_at}.get(
        message.status
    )
    title = f"{label} {exact(moment)}" if moment else label
    return format_html(
        '<span class="ticks ticks-{}" title="{}"><span aria-hidden="true">{}</span>'
        '<span class="sr-only">{}</span></span>',
        message.status,
        title,
        symbol,
        label,
    )


@register.simple_tag
def get_count(counts, key):
    """A filter's count; past the counted limit, "1,000+" (inbox.selectors.filter_counts)."""
    count, limit = counts.get(str(key), 0), selectors.COUNT_LIMIT
    return f"{limit:,}+" if count > limit else count


@register.simple_tag
def day_label(moment):
    local = _local(moment).date()
    today = _local(timezone.now()).date()
    if local == today:
        return "Today"
    if (today - local).days == 1:
        return "Yesterday"
    return f"{local:%A %-d %B %Y}"


@register.simple_tag
def sent_template(message):
    """A template message as the customer saw it: header, body, footer and buttons, filled with the
    values it was sent with (Message.template_params and template_extras); None for other messages.
    The body is the text as sent, should the template have changed since."""
    if message.kind != "template" or message.template is None:
        return None
    shown = message.template.shown(message.template_params, message.template_extras)
    if shown.body_text != message.body:
        shown = replace(shown, body=(Part(message.body, "text"),))
    return shown


@register.simple_tag
def window_key(customer) -> str:
    """What the customer's service window depends on, as data and never as the clock: the thread, the
    compose area and the side panel each carry it, and static/inbox/inbox.js re-renders the compose area
    and the side panel when the thread shows a newer one (the customer wrote: the window reopened)."""
    moments = (customer.last_inbound_at, customer.platform_window_closed_at)
    return "|".join(moment.isoformat() if moment else "-" for moment in moments)


@register.filter
def first_line(text) -> str:
    """What a quote shows of a message: its first line, shortened (inbox.selectors.first_line)."""
    return selectors.first_line(str(text or ""))


@register.filter
def with_mentions(text) -> str:
    """A private note's text, escaped, with its @mentions marked and its line breaks kept."""
    escaped = str(conditional_escape(text))
    marked = re.sub(
        r"(?<![\w@.])@([A-Za-z0-9_][\w.\-]*\w|[A-Za-z0-9_])", r'<strong class="mention">@\1</strong>', escaped
    )
    return mark_safe(marked.replace("\n", "<br>"))  # noqa: S308 - escaped above; only our tags added
