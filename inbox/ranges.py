"""Byte ranges of a stored file (RFC 9110 §14): a browser asks for them to seek in a voice note or a
video, and to start playing a long one before it has all of it. One range is served (206); what cannot be
read as one range is answered with the whole file, as the RFC allows; a range past the end is 416."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.http import HttpResponse, StreamingHttpResponse

CHUNK = 64 * 1024
_ONE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # inclusive, as Content-Range counts

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Unsatisfiable(Exception):
    """The range starts at or beyond the file's end."""


def requested(header: str | None, size: int) -> Span | None:
    """The one range `header` asks for within a file of `size` bytes; None to send the whole file (no
    header, several ranges, or a form this does not read). Raises Unsatisfiable for a range past the end."""
    match = _ONE_RANGE.match((header or "").replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise Unsatisfiable
        return Span(max(size - suffix, 0), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        raise Unsatisfiable
    if last and int(last) < start:
        return None  # invalid: the whole file
    return Span(start, end)


def partial(opened, span: Span, size: int, content_type: str) -> StreamingHttpResponse:
    """206 with the bytes of `span` from the open file `opened` (closed when the response is)."""
    opened.seek(span.start)

    def chunks():
        left = span.length
        try:
            while left > 0:
                data = opened.read(min(CHUNK, left))
                if not data:
                    return
                left -= len(data)
                yield data
        finally:
            opened.close()

    response = StreamingHttpResponse(chunks(), status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {span.start}-{span.end}/{size}"
    response["Content-Length"] = str(span.length)
    return response


def unsatisfiable(size: int) -> HttpResponse:
    response = HttpResponse(status=416, content_type="text/plain")
    response["Content-Range"] = f"bytes */{size}"
    return response
