"""Rendered message bubbles, kept. A thread shows up to sixty messages and is rendered on every page load
and every poll that brings news; most of its bubbles have not changed since the last time. Each bubble is
kept under a key made of everything it shows: the message's facts (selectors.message_facts: body,
status, ticks, quote, reaction…), who sent it, the template it was sent from as last saved, and the
agent's time zone and day (its time reads "14:05" today and "Tue 14:05" tomorrow), and whether it offers
the Reply and React actions. A key never goes stale: anything that changes what a bubble shows changes
its key.

The store is a bounded cache in each process's memory (settings.CACHES["bubbles"]): one lookup for the
whole thread, no network round trip, and a deploy starts it afresh with the new templates."""

import hashlib

from django.core.cache import caches
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from conversations.limits import REACTION_EMOJIS
from inbox.selectors import Line, Thread, message_facts

CACHE = "bubbles"


def prerender(thread: Thread, *, tz, today, actions: bool = False) -> None:
    """Give every message of `thread` its bubble's HTML (item.html), from the cache or rendered now.
    `actions`: with the Reply and React actions (an agent who may send, inside the window)."""
    items = [item for item in thread.items if item.kind is Line.MESSAGE and item.message is not None]
    if not items:
        return
    keys = [_key(item.message, tz, today, actions) for item in items]
    context = {"actions": actions, "reaction_emojis": REACTION_EMOJIS}
    store = caches[CACHE]
    found = store.get_many(keys)
    rendered = {}
    for item, key in zip(items, keys, strict=True):
        html = found.get(key)
        if html is None:
            html = rendered[key] = render_to_string(
                "inbox/inbox.html#bubble", {"message": item.message, **context}
            )
        # Rendered by Django's template engine with autoescaping: customer text in it is escaped.
        item.html = mark_safe(html)  # noqa: S308
    if rendered:
        store.set_many(rendered)


def _key(message, tz, today, actions: bool) -> str:
    agent = message.agent
    template = message.template
    facts = (
        message_facts(message),
        (agent.get_full_name(), agent.get_username()) if agent else None,
        (template.pk, template.updated_at) if template else None,
        str(tz),
        today,
        actions,
    )
    return "bubble:" + hashlib.blake2b(repr(facts).encode(), digest_size=16).hexdigest()
