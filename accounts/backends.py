"""Sign-in by username and password, and a user's permissions, as Django's ModelBackend does them; only
the permissions are read in one query (the user's own and their groups' together) instead of two. Every
page, poll and send asks (accounts.access.requires): the polls alone run every few seconds per agent."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class RoleBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = self._all_permissions(user_obj)
        return user_obj._perm_cache

    def _all_permissions(self, user_obj) -> set[str]:
        if user_obj.is_superuser:
            permissions = Permission.objects.all()
        else:
            own = Permission.objects.filter(user=user_obj.pk).values("pk")
            grouped = Permission.objects.filter(group__user=user_obj.pk).values("pk")
            permissions = Permission.objects.filter(Q(pk__in=own) | Q(pk__in=grouped))
        rows = permissions.values_list("content_type__app_label", "codename").order_by()
        return {f"{app_label}.{codename}" for app_label, codename in rows}
