"""The header's available/away switch, on every page for who may flip it (agents)."""

from django import template

from conversations.services.assignment import is_available

register = template.Library()


@register.inclusion_tag("inbox/availability.html", takes_context=True)
def availability_switch(context):
    return {"available": is_available(context["user"]), "csrf_token": context.get("csrf_token")}
