import os

from celery import Celery

from config import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
broker.replace_kombus_filesystem_transport()

app = Celery("support_inbox")
# Celery's settings are the CELERY_* Django settings (CELERY_BROKER_URL → broker_url), read into a plain
# mapping when Celery first needs them (`celery_settings` below). Celery reading them through Django's
# settings object itself (config_from_object("django.conf:settings", namespace="CELERY")) looked up seven
# settings per task sent, each under several names, through Django's lazy settings: half the CPU of
# queueing a send's task (scripts/benchmark_channel.py, send_text). A test that points this process at
# another broker sets app.conf.broker_url (tests/whatsapp/processes_helpers.py: use_broker).
app.config_from_object("config.celery:celery_settings")
app.autodiscover_tasks()


def __getattr__(name: str):
    if name == "celery_settings":
        from django.conf import settings

        prefix = "CELERY_"
        return {
            key.removeprefix(prefix).lower(): getattr(settings, key)
            for key in dir(settings)
            if key.startswith(prefix)
        }
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
