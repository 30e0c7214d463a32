"""Sign-in throttling (accounts.throttling, django-axes): wrong passwords are counted per username and
address; at the limit that pair is refused, even with the right password, on the inbox's sign-in page and
the admin's, with a page that says why and for how long, until the pause ends or an admin unlocks it.
The clock is time-machine's; the attempts are the database handler's rows, as in production."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client

from accounts import roles

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INBOX_LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"
ATTACKER = "203.0.113.7"
COLLEAGUE = "198.51.100.20"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def users(db):
    agent = User.objects.create_user("ana", password=PASSWORD)
    agent.groups.set([Group.objects.get(name=roles.AGENTS)])
    admin = User.objects.create_user("ada", password=PASSWORD, is_staff=True)
    admin.groups.set([Group.objects.get(name=roles.ADMINS)])
    return {"agent": agent, "admin": admin}


def sign_in(page: str, username: str, password: str, *, address: str = ATTACKER, **headers):
    """A fresh browser posting the sign-in form from `address`; the response and whether it signed in."""
    browser = Client(REMOTE_ADDR=address, **headers)
    data = {"username": username, "password": password}
    if page == ADMIN_LOGIN:
        data["next"] = "/admin/"
    response = browser.post(page, data)
    return response, "_auth_user_id" in browser.session


def fail_until_locked(page: str, username: str, *, address: str = ATTACKER, **headers):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert not sign_in(page, username, "wrong", address=address, **headers)[1]


def assert_paused(response, username: str):
    assert response.status_code == 429
    text = " ".join(response.text.split())
    assert "Sign-in paused" in text
    assert f"Too many wrong passwords for <strong>{username}</strong>" in text
    assert "paused for 15 minutes" in text
    assert "ask an admin to unlock it sooner" in text


def test_the_defaults_are_five_failures_and_a_fifteen_minute_pause():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


@pytest.mark.parametrize("page", [INBOX_LOGIN, ADMIN_LOGIN])
def test_wrong_passwords_up_to_the_limit_pause_the_right_one_too(clock, users, page):
    username = "ada" if page == ADMIN_LOGIN else "ana"
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(page, username, "wrong")[0].status_code == 200  # the form again, with its error
    assert_paused(sign_in(page, username, "wrong")[0], username)
    response, signed_in = sign_in(page, username, PASSWORD)
    assert not signed_in
    assert_paused(response, username)


def test_fifty_fast_guesses_never_get_in(clock, users):
    """The finding: 50 wrong passwords at 1.5 per second, then the right one, used to sign in."""
    for _ in range(50):
        assert not sign_in(INBOX_LOGIN, "ana", "wrong")[1]
        clock.shift(timedelta(seconds=1 / 1.5))
    response, signed_in = sign_in(INBOX_LOGIN, "ana", PASSWORD)
    assert not signed_in and response.status_code == 429


def test_the_inbox_and_the_admin_count_together(clock, users):
    for page in [INBOX_LOGIN, ADMIN_LOGIN] * settings.AXES_FAILURE_LIMIT:
        sign_in(page, "ada", "wrong")
    assert_paused(sign_in(ADMIN_LOGIN, "ada", PASSWORD)[0], "ada")


def test_other_users_and_the_same_user_elsewhere_are_unaffected(clock, users):
    fail_until_locked(INBOX_LOGIN, "ana")
    assert sign_in(INBOX_LOGIN, "ada", PASSWORD)[1], "another user from the same address"
    assert sign_in(INBOX_LOGIN, "ana", PASSWORD, address=COLLEAGUE)[1], "the same user from elsewhere"
    assert not sign_in(INBOX_LOGIN, "ana", PASSWORD)[1]


def test_the_pause_ends_after_the_cool_off(clock, users):
    fail_until_locked(INBOX_LOGIN, "ana")
    clock.shift(timedelta(minutes=14, seconds=59))
    assert not sign_in(INBOX_LOGIN, "ana", PASSWORD)[1]
    # That refused attempt started the pause again: 15 minutes from it.
    clock.shift(timedelta(minutes=15, seconds=1))
    response, signed_in = sign_in(INBOX_LOGIN, "ana", PASSWORD)
    assert signed_in and response.status_code == 302


def test_a_success_before_the_limit_clears_the_count(clock, users):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(INBOX_LOGIN, "ana", "wrong")
    assert sign_in(INBOX_LOGIN, "ana", PASSWORD)[1]
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(INBOX_LOGIN, "ana", "wrong")
    assert sign_in(INBOX_LOGIN, "ana", PASSWORD)[1]


def test_an_admin_unlocks_in_the_admin(clock, users, client):
    fail_until_locked(INBOX_LOGIN, "ana")
    client.force_login(users["admin"])
    attempts = client.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200 and "ana" in attempts.text
    [attempt] = AccessAttempt.objects.filter(username="ana")
    response = client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert sign_in(INBOX_LOGIN, "ana", PASSWORD)[1]


def test_a_script_authenticating_without_a_request_is_not_throttled(users):
    from django.contrib.auth import authenticate

    fail_until_locked(INBOX_LOGIN, "ana")
    assert authenticate(username="ana", password=PASSWORD) == users["agent"]


# --- Behind the TLS proxy ----------------------------------------------------------------------------------
PROXY = "10.0.0.2"


def test_behind_the_proxy_the_client_is_the_address_the_proxy_appended(clock, users, settings):
    settings.BEHIND_TLS_PROXY = True
    # Every request reaches gunicorn from the proxy; a client may put anything first in X-Forwarded-For.
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(INBOX_LOGIN, "ana", "wrong", address=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {ATTACKER}")
    response, signed_in = sign_in(
        INBOX_LOGIN, "ana", PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.99, {ATTACKER}"
    )
    assert not signed_in and response.status_code == 429
    # A colleague behind the same proxy is another client.
    assert sign_in(INBOX_LOGIN, "ana", PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR=COLLEAGUE)[1]


def test_without_the_proxy_x_forwarded_for_is_not_trusted(clock, users, settings):
    settings.BEHIND_TLS_PROXY = False
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(INBOX_LOGIN, "ana", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert not sign_in(INBOX_LOGIN, "ana", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")[1]
