"""Display helpers: times in the agent's zone with the exact time on hover, countdowns the page's
script ticks, delivery ticks. They display what the server computed; they decide nothing."""

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html

from inbox import selectors

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


def coarse(remaining: timedelta) -> str:
    """What the server writes (the script replaces it with a ticking clock): minutes, not seconds, so a
    polled fragment renders identically for a minute and the poll can answer 204."""
    minutes = int(remaining.total_seconds()) // 60
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else "under a minute"


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
def sent_extras(message) -> dict:
    """What the customer saw of a template message besides its body: the header (text, or the media's
    link) and the buttons' links or codes (Message.template_extras)."""
    extras = message.template_extras or {}
    if not extras or message.template is None:
        return {}
    inputs = message.template.send_inputs
    shown: dict = {}
    header = extras.get("header")
    if header:
        if header.get("format") == "TEXT" and inputs.header is not None:
            shown["header"] = inputs.header.text.replace(f"{{{{{header['name']}}}}}", header["value"])
        elif header.get("format") == "LOCATION" and isinstance(header.get("value"), dict):
            place = header["value"]
            where = ", ".join(str(place[k]) for k in ("name", "address") if place.get(k))
            coordinates = f"({place['latitude']}, {place['longitude']})"
            shown["header"] = f"location: {where} {coordinates}" if where else f"location: {coordinates}"
        else:
            shown["header"] = f"{str(header.get('format', '')).lower()}: {header.get('value', '')}"
    buttons = {button.index: button for button in inputs.buttons}
    shown["buttons"] = []
    for entry in extras.get("buttons") or []:
        button = buttons.get(entry.get("index"))
        label = button.text if button else f"button {entry.get('index')}"
        if button is not None and button.url and not button.is_code:
            shown["buttons"].append(f"{label}: {button.url.replace('{{1}}', entry['value'])}")
        elif button is None or not button.is_code:
            shown["buttons"].append(f"{label}: {entry['value']}")
    return shown


@register.simple_tag
def window_key(customer) -> str:
    """What the customer's service window depends on, as data and never as the clock: the thread, the
    compose area and the side panel each carry it, and static/inbox/inbox.js re-renders the compose area
    and the side panel when the thread shows a newer one (the customer wrote: the window reopened)."""
    moments = (customer.last_inbound_at, customer.platform_window_closed_at)
    return "|".join(moment.isoformat() if moment else "-" for moment in moments)
