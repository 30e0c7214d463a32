from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self):
        # Registers the deployment checks that `manage.py check --deploy` runs.
        from config import checks  # noqa: F401
