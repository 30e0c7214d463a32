"""A user's permissions (accounts.backends.RoleBackend): the same answer as Django's ModelBackend for every
role, a permission given to the user directly, both at once, a superuser and a deactivated account; read in
one query instead of two, once per request; and a role taken away counts from the next request on."""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from accounts import roles
from accounts.backends import RoleBackend
from tests.factories import user

pytestmark = pytest.mark.django_db


def fresh(account: User) -> User:
    """The account as the next request loads it: no permission cached on it."""
    return User.objects.get(pk=account.pk)


def direct_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="reports", codename="view_team_reports")


@pytest.mark.parametrize("role", [roles.AGENTS, roles.SUPERVISORS, roles.ADMINS, None])
@pytest.mark.parametrize("given_directly", [False, True])
def test_the_same_permissions_as_djangos_model_backend(role, given_directly):
    account = user("pat", role)
    if given_directly:
        account.user_permissions.add(direct_permission())
    ours = RoleBackend().get_all_permissions(fresh(account))
    djangos = ModelBackend().get_all_permissions(fresh(account))
    assert ours == djangos
    assert ("reports.view_team_reports" in ours) == (
        given_directly or role in (roles.SUPERVISORS, roles.ADMINS)
    )
    if role is None and not given_directly:
        assert ours == set()


def test_a_superuser_has_every_permission_and_a_deactivated_account_none():
    boss = User.objects.create_superuser("boss", password="x")
    assert RoleBackend().get_all_permissions(fresh(boss)) == ModelBackend().get_all_permissions(fresh(boss))
    assert len(RoleBackend().get_all_permissions(fresh(boss))) == Permission.objects.count()
    gone = user("gone", roles.ADMINS, is_active=False)
    assert RoleBackend().get_all_permissions(fresh(gone)) == set()
    assert not fresh(gone).has_perm("inbox.view_cannedreply")


def test_one_query_per_request_however_many_checks(django_assert_num_queries):
    account = fresh(user("ana", roles.AGENTS))
    with django_assert_num_queries(1):
        checks = [
            account.has_perm(p)
            for p in ("inbox.view_cannedreply", "inbox.add_note", "reports.view_team_reports")
        ]
    assert checks == [True, True, False]


def test_a_role_taken_away_counts_from_the_next_request():
    account = user("ana", roles.SUPERVISORS)
    client = Client()
    client.force_login(account)
    assert client.get("/reports/conversations/").status_code == 200
    account.groups.set([Group.objects.get(name=roles.AGENTS)])  # an admin demotes her meanwhile
    assert client.get("/reports/conversations/").status_code == 200  # agents see their own figures
    account.groups.clear()
    assert client.get("/reports/conversations/").status_code == 403
