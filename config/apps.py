from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project itself, as an app only so that its deployment checks are registered (the apps below
    it never import `config`)."""

    name = "config"
    verbose_name = "Project"

    def ready(self):
        # Registers the deployment checks that `manage.py check --deploy` runs.
        from config import checks  # noqa: F401
