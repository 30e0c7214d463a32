"""Deployment checks: `manage.py check --deploy` refuses the development defaults as errors.

Without environment variables the settings fall back to the embedded local setup (a public secret key,
SQLite, kombu's filesystem broker) so that `./dev demo` needs nothing installed. Each default is right
on a laptop and wrong in production; Django's own deploy checks only warn about some of them. The web
container runs `check --deploy --fail-level WARNING` before gunicorn (docker-compose.yml), so any of
these errors keeps a misconfigured production from starting.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register

MIN_SECRET_KEY_LENGTH = 50
# Fragments of the values that example files, tutorials and our own Dockerfile put in place of a key.
PLACEHOLDER_SECRET_KEY_MARKERS = (
    "change-me",
    "change_me",
    "changeme",
    "replace-me",
    "placeholder",
    "not-a-secret",
    "django-insecure",
)
NEW_KEY_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(64))"'
# Transports that live inside one machine or process: the web container's tasks would never reach
# the worker container.
LOCAL_BROKER_SCHEMES = ("filesystem", "memory")


def _is_placeholder(value: str) -> bool:
    return any(marker in value.lower() for marker in PLACEHOLDER_SECRET_KEY_MARKERS)


@register(Tags.security, deploy=True)
def check_secret_key(app_configs, **kwargs):
    key = settings.SECRET_KEY
    if key == settings.DEVELOPMENT_SECRET_KEY:
        problem = "SECRET_KEY is the public development key from config/settings.py."
    elif _is_placeholder(key):
        problem = "SECRET_KEY is a placeholder, not a secret."
    elif len(key) < MIN_SECRET_KEY_LENGTH:
        # The length only: the key itself must not end up in logs.
        problem = f"SECRET_KEY has {len(key)} characters; at least {MIN_SECRET_KEY_LENGTH} are required."
    else:
        return []
    return [
        Error(
            problem,
            hint=f"Set DJANGO_SECRET_KEY to a long random value, e.g. the output of {NEW_KEY_COMMAND}",
            id="config.E001",
        )
    ]


@register(Tags.security, deploy=True)
def check_debug(app_configs, **kwargs):
    if not settings.DEBUG:
        return []
    return [
        Error(
            "DEBUG is on: error pages would show settings and source code to anyone.",
            hint="Unset DJANGO_DEBUG or set DJANGO_DEBUG=false.",
            id="config.E002",
        )
    ]


@register(Tags.security, deploy=True)
def check_celery_broker(app_configs, **kwargs):
    scheme = urlsplit(settings.CELERY_BROKER_URL).scheme
    if scheme not in LOCAL_BROKER_SCHEMES:
        return []
    return [
        Error(
            f"The Celery broker is the local {scheme}:// transport (the development default): "
            "tasks queued by the web container never reach the worker.",
            hint="Set CELERY_BROKER_URL (or REDIS_URL) to the Redis broker, e.g. redis://redis:6379/0.",
            id="config.E003",
        )
    ]


@register(Tags.security, deploy=True)
def check_database(app_configs, **kwargs):
    return [
        Error(
            f"The {alias!r} database is SQLite (the development default); production runs on PostgreSQL.",
            hint="Set DATABASE_URL to the PostgreSQL database, e.g. postgres://user:password@host:5432/name.",
            id="config.E004",
        )
        for alias, database in settings.DATABASES.items()
        if database["ENGINE"] == "django.db.backends.sqlite3"
    ]


@register(Tags.security, deploy=True)
def check_whatsapp_secrets(app_configs, **kwargs):
    """The webhook's app secret and verify token must be the app's own, not the sandbox's public ones."""
    problems = []
    secret = settings.WHATSAPP_APP_SECRET
    if secret in ("", settings.DEVELOPMENT_WHATSAPP_APP_SECRET) or _is_placeholder(secret):
        problems.append(
            Error(
                "WHATSAPP_APP_SECRET is the public sandbox value or a placeholder: anyone could sign "
                "webhook deliveries.",
                hint="Set WHATSAPP_APP_SECRET to the App Secret of your Meta app (App settings > Basic).",
                id="config.E005",
            )
        )
    token = settings.WHATSAPP_VERIFY_TOKEN
    if token in ("", settings.DEVELOPMENT_WHATSAPP_VERIFY_TOKEN) or _is_placeholder(token):
        problems.append(
            Error(
                "WHATSAPP_VERIFY_TOKEN is the public sandbox value or a placeholder.",
                hint="Set WHATSAPP_VERIFY_TOKEN to a random string and enter the same in the webhook setup.",
                id="config.E006",
            )
        )
    if settings.WHATSAPP_SANDBOX or _is_placeholder(settings.WHATSAPP_ACCESS_TOKEN):
        problems.append(
            Error(
                "WHATSAPP_ACCESS_TOKEN is not set (messages would go to the local sandbox, not to "
                "customers) or is a placeholder.",
                hint="Set WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID and WHATSAPP_BUSINESS_ACCOUNT_ID.",
                id="config.E007",
            )
        )
    return problems


@register()
def check_whatsapp_credentials(app_configs, **kwargs):
    """With an access token, the platform also needs to know which number sends (always checked)."""
    if settings.WHATSAPP_SANDBOX or settings.WHATSAPP_PHONE_NUMBER_ID:
        return []
    return [
        Error(
            "WHATSAPP_ACCESS_TOKEN is set but WHATSAPP_PHONE_NUMBER_ID is not: messages cannot be sent.",
            hint="Set WHATSAPP_PHONE_NUMBER_ID to the id of the business phone number (WhatsApp Manager).",
            id="config.E008",
        )
    ]
