"""Real processes for the channel's failure-mode tests (test_resilience.py).

- `Worker`: `celery -A config worker` in a session of its own, so a test can SIGKILL it together with its
  pool children and embedded beat (as a lost host or the OOM killer would), or kill only the pool child
  that runs a task (the main process then sees the worker lost and the broker redelivers the task).
- `RedisServer`: a throwaway `redis-server` on a free port that a test can stop and start again on the
  same port, without persistence (like a broker that lost its memory), or freeze (SIGSTOP).
- `use_broker(url)`: point this process's Celery app at a broker, so `delay()` and the after-commit
  dispatch of the services publish there.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.processes import free_port, started, wait_until


class Worker:
    """One Celery worker process group; `start()` returns once it consumes from the broker."""

    def __init__(
        self,
        environment: dict[str, str],
        log: Path,
        *,
        name: str,
        concurrency: int = 1,
        beat: bool = False,
    ):
        self.environment = environment
        self.log = log
        self.name = name
        self.concurrency = concurrency
        self.beat = beat
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> Worker:
        argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--pool=prefork"]
        argv += [
            f"--concurrency={self.concurrency}",
            f"--hostname={self.name}-{os.getpid()}@%h",
            "--without-mingle",  # nothing to synchronise with: one worker at a time
            "--without-gossip",
        ]
        if self.beat:
            argv += ["--beat", f"--schedule={self.log.with_suffix('.beat-schedule')}"]
        self.process = started(argv, self.environment, self.log, start_new_session=True)
        wait_until(
            lambda: self.process.poll() is not None or " ready." in self.output(),
            timeout,
            f"worker {self.name} not ready",
            self.log,
        )
        if self.process.poll() is not None:
            pytest.fail(f"worker {self.name} exited with {self.process.returncode}:\n{self.output()[-6000:]}")
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def results(self, task: str) -> list[str]:
        """What each finished run of `task` returned, in order (from the worker's log)."""
        pattern = re.compile(rf"Task {re.escape(task)}\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: (.*)$", re.M)
        return [value.strip("'\"") for value in pattern.findall(self.output())]

    def pool_children(self) -> list[int]:
        """The pids whose parent is the worker's main process (its pool, and beat when embedded)."""
        assert self.process is not None
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing paren.
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[1]) == self.process.pid:
                    children.append(int(stat.parent.name))
        return children

    def kill(self) -> None:
        """SIGKILL the whole process group at once: no warm shutdown, no ack, no cleanup."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL whatever of the group is left (a pool child, beat)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


class RedisServer:
    """`redis-server` on 127.0.0.1, no persistence: a restart starts empty."""

    def __init__(self, directory: Path, port: int | None = None):
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> RedisServer:
        self.starts += 1
        log = self.directory / f"redis-{self.port}-{self.starts}.log"
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--daemonize", "no", "--dir", str(self.directory)]
        self.process = started(argv, dict(os.environ), log)
        wait_until(lambda: self.process.poll() is not None or self.ping(), timeout, "redis not up", log)
        if self.process.poll() is not None:
            pytest.fail(f"redis-server exited with {self.process.returncode}:\n{log.read_text()}")
        return self

    def ping(self) -> bool:
        try:
            # No retries: redis-py's default backs off for seconds before saying "down".
            probe = redis.Redis(port=self.port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
            return bool(probe.ping())
        except redis.RedisError:
            return False

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung or partitioned broker)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        deadline = time.monotonic() + 5
        while self.ping() and time.monotonic() < deadline:  # the port is really closed
            time.sleep(0.1)


@contextlib.contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Fail (instead of hanging the run) if the block takes longer than `seconds`. SIGALRM interrupts a
    blocking socket read; pytest's failure is a BaseException, so no `except Exception` swallows it."""

    def expired(signum, frame):
        pytest.fail(f"{what}: still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def use_broker(url: str) -> Iterator[None]:
    """Publish from this process to `url` (the session's default is an in-memory broker)."""
    from config.celery import app

    previous = app.conf.broker_url
    _switch(app, url)
    try:
        yield
    finally:
        _switch(app, previous)


def _switch(app, url: str) -> None:
    app.conf.broker_url = url
    # The app caches its connection and producer pools for the broker it first used; forget them so the
    # next publish builds (or reuses, kombu keeps one per URL) the pool for this one.
    app._pool = None
    app.amqp._producer_pool = None
