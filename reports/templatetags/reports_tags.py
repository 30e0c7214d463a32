from django import template

from reports import tables

register = template.Library()


@register.filter
def report_cell(value) -> str:
    """A figure as the tables and the CSV write it."""
    return tables.cell(value)
