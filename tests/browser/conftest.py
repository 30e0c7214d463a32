"""A real browser against the live server: Debian's Chromium driven by Playwright.

Tests carry the `browser` marker. Locally without Chromium they skip with the reason shown (-ra); under
CI=true they fail instead, like tests that need PostgreSQL or Redis (tests/conftest.py): CI must never
pass by skipping what it was meant to prove. `./dev test` installs Chromium in CI. (Playwright itself is a
locked dev dependency; its own browser downloads are not used.)

Every page watches the browser console: a Content-Security-Policy violation, an uncaught script error or
any other console error fails the test that caused it, unless the test declared it expected
(`page_issues.allow(...)`, e.g. the 409 of a refused send). CSP violations can never be allowed.
"""

import io
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 850}
TIME_ZONE = "Europe/Berlin"  # not UTC: the page reports it in the tz cookie and the server renders in it
CSP_VIOLATION = re.compile(r"Content Security Policy|Refused to")
ISSUES = pytest.StashKey["PageIssues"]()


def chromium_path() -> str | None:
    """CHROMIUM_PATH if set (it must exist), else Debian's /usr/bin/chromium, else `chromium` on PATH."""
    wanted = os.environ.get("CHROMIUM_PATH")
    if wanted:
        return wanted if Path(wanted).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _missing() -> str | None:
    if chromium_path() is None:
        where = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium or chromium on PATH"
        return f"needs Chromium at {where} (apt-get install chromium, or set CHROMIUM_PATH)"
    return None


def pytest_runtest_setup(item):
    if not item.get_closest_marker("browser"):
        return
    reason = _missing()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true: {reason} — the browser tests must run in CI, never be skipped")
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test itself (not its teardown) when its page logged a problem."""
    result = yield
    issues = item.stash.get(ISSUES, None)
    if issues is not None and (problems := issues.unexpected()):
        pytest.fail("the browser reported problems:\n  " + "\n  ".join(problems), pytrace=False)
    return result


@dataclass
class PageIssues:
    seen: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """An expected console error, e.g. "409 \\(Conflict\\)" for a refused send. Never a CSP violation."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [
            text
            for text in self.seen
            if CSP_VIOLATION.search(text) or not any(p.search(text) for p in self.allowed)
        ]


@pytest.fixture(scope="package")
def browser():
    """One Chromium for all the browser tests.

    Package-scoped rather than session-scoped on purpose: while Playwright's sync API is started, the
    main thread has an asyncio loop marked as running. Django then refuses ORM calls there
    (SynchronousOnlyOperation; allowed below, for the tests' own setup and checks) and keeps a separate
    database connection for that "async" context (closed below). Stopping the browser after the last
    browser test gives the rest of the suite its plain thread and its checks back.
    """
    reason = _missing()
    if reason is not None:  # pytest_runtest_setup has skipped or failed the test already
        pytest.skip(reason)
    from django.db import connections
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    finally:
        connections.close_all()  # the connections opened while the loop ran
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo(request):
    """The demo (seed_demo): users of each role, templates, customers in every state, relative to now;
    with `@pytest.mark.demo_history(days)`, that many days of history too (config.demo_history).

    Live-server tests are transactional: each ends with a flush, which removes the role groups that a
    migration created (permissions come back with the flush). Put the groups back from accounts.roles first.
    """
    from django.contrib.auth.models import Group, Permission
    from django.core.management import call_command

    from accounts import roles

    for role, permissions in roles.ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(
            [Permission.objects.get(content_type__app_label=app, codename=code) for app, code in permissions]
        )
    marker = request.node.get_closest_marker("demo_history")
    days = marker.args[0] if marker else 0
    call_command("seed_demo", "--force", "--history-days", str(days), stdout=io.StringIO())


@pytest.fixture
def page_issues(request) -> PageIssues:
    issues = PageIssues()
    request.node.stash[ISSUES] = issues
    return issues


@pytest.fixture
def new_page(browser, live_server, page_issues):
    """Opens a fresh browser context (no cookies, no storage) on the live server, in Berlin time, and
    returns its tab: a second person at another computer (two agents on one customer). Every tab's
    console is watched like the first one's."""
    contexts = []

    def open_tab():
        context = browser.new_context(
            viewport=VIEWPORT, timezone_id=TIME_ZONE, locale="en-US", base_url=live_server.url
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        tab = context.new_page()

        def on_console(message):
            if message.type == "error" or CSP_VIOLATION.search(message.text):
                page_issues.seen.append(f"console {message.type}: {message.text} ({tab.url})")

        tab.on("console", on_console)
        tab.on("pageerror", lambda error: page_issues.seen.append(f"uncaught error: {error} ({tab.url})"))
        return tab

    yield open_tab
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A fresh browser context per test (no cookies, no storage), on the live server, in Berlin time."""
    return new_page()


@pytest.fixture
def log_in(page):
    """Log in through the form, as a person would. The first page of a tab reports the browser's time
    zone in a cookie and reloads once (static/inbox/inbox.js): wait for that before typing. `tab`: another
    person's tab (new_page) instead of the test's own."""

    def log_in_as(username: str, password: str, tab=None):
        tab = tab or page
        first_page = not any(cookie["name"] == "tz" for cookie in tab.context.cookies())
        tab.goto("/login/")
        if first_page:
            tab.wait_for_function("() => performance.getEntriesByType('navigation')[0].type === 'reload'")
        tab.fill("#id_username", username)
        tab.fill("#id_password", password)
        tab.get_by_role("button", name="Log in").click()
        tab.wait_for_url(lambda url: "/login/" not in url)
        return tab

    return log_in_as


@pytest.fixture
def agent(log_in):
    """The demo's agent, signed in (tests that need the demo's data use the `demo` fixture)."""
    return log_in("agent", "agent-demo")
