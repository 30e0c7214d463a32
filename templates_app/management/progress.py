"""A progress line for long commands, written to stderr (stdout stays for results). No dependency: a
`\r`-redrawn bar on a terminal; on a pipe or a log, a few plain lines instead of thousands of redraws."""

from __future__ import annotations

WIDTH = 30


class ProgressBar:
    def __init__(self, stream, *, live: bool):
        self.stream = stream
        self.live = live  # a terminal: redraw one line in place
        self._last: tuple[str, int] | None = None
        self._open = False

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        """services.Progress: ("fetch", n, None) while pages arrive, then ("apply", n, total)."""
        if total:
            percent = done * 100 // total
            step = (stage, percent if self.live else percent // 25)
            filled = WIDTH * done // total
            line = f"{stage:<6} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total} ({percent}%)"
        else:
            # On a log, a line at the first template and every 500th: the listing may be thousands long.
            step = (stage, done if self.live else (done + 499) // 500)
            line = f"{stage:<6} {done} template{'s' if done != 1 else ''} received"
        if step == self._last:
            return
        self._last = step
        if self.live:
            self.stream.write(f"\r{line}\x1b[K", ending="")
            self.stream.flush()
            self._open = True
        else:
            self.stream.write(line)

    def close(self) -> None:
        if self._open:
            self.stream.write("")
            self._open = False
