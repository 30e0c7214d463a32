"""Reading the inbox's list as the page does: its names, and every page of it by following "older"."""

import re
from urllib.parse import unquote

from django.urls import reverse


def names(html: str) -> list[str]:
    return re.findall(r'<span class="name">([^<]+)</span>', html)


def every_page(client, query: dict, *, most: int = 10) -> list[str]:
    """The names of each page of the list in turn, following each page's keyset link for older rows
    (at most `most` pages)."""
    seen, before = [], None
    for _ in range(most):
        html = client.get(reverse("inbox:list"), query | ({"before": before} if before else {})).text
        seen += names(html)
        link = re.search(r'hx-get="/list/\?[^"]*before=([^"&]+)', html)
        if not link:
            break
        before = unquote(link.group(1))
    return seen
