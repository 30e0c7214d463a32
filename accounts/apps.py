from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    """Who may do what, shared by the screens (inbox, reports): the roles, the sign-in and permission
    gate, and the 403 that says what is missing. It imports no other app of the project."""

    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from accounts.roles import sync_roles_after_migrate

        # After every migrate (and every flush in tests): the role groups exist with exactly their
        # permissions. Migrations themselves import no app code.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="accounts.sync_roles")
