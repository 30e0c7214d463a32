"""Error tracking with Sentry, started by config/settings.py only when SENTRY_DSN is set.

Uncaught errors in requests (Django) and in tasks (Celery) are reported. Customers' messages, names and
phone numbers are personal data: nothing the SDK would add on its own (users, cookies, request bodies,
client addresses) is sent."""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration


def start_sentry(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
