"""One environment-driven settings module.

Every value comes from the environment (see .env.example); the defaults are the embedded local setup:
SQLite under var/, kombu's filesystem broker under var/, no Redis needed. Production sets the
variables; `manage.py check --deploy` refuses the development defaults that must not reach it.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

# A fixed, public key for local development only. The deploy checks (config/checks.py) refuse it.
DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-never-use-in-production"  # noqa: S105

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "axes",  # sign-in throttling (accounts.throttling); its admin lists and unlocks access attempts
    "conversations",
    "templates_app",
    "whatsapp",
    "accounts",
    "inbox",
    "reports",
    "config",  # last: the deployment checks (config.apps)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "inbox.middleware.AgentTimezoneMiddleware",
    # Last, as axes asks: turns a refused sign-in into the "sign-in paused" page (accounts.throttling).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take SQLite's write lock up front, so the web process and the Celery
    # worker serialise their decisions instead of failing at commit; WAL lets readers continue.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A database that stops answering (a network partition, a failover) must fail the request within
        # seconds: without a limit a new connection waits on TCP for minutes, and gunicorn kills the worker
        # after its 30 s timeout. libpq's connect_timeout, in seconds.
        DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
            "DATABASE_CONNECT_TIMEOUT", default=5
        )
        # The hot paths' statements (conversations.prepared.cursor) are prepared on first use, once per
        # connection. Django's own cursors bind on the client and never prepare. Behind a pooler in
        # transaction mode (PgBouncer before 1.21), set DATABASE_PREPARED_STATEMENTS=false.
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
            5 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None
        )
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env.bool(
        "DATABASE_JIT", default=False
    ):
        # PostgreSQL's JIT compiles a query whose estimated cost is high, which the reports' grouped
        # queries are: measured on the benchmark (README), compiling took 1.7 s of CPU for a query that
        # then ran in milliseconds. Our queries are short; without JIT they stay short. (A pooler that
        # refuses startup options: set DATABASE_JIT=true and `jit = off` on the server instead.)
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: Redis when REDIS_URL is set, process memory otherwise ----------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # Rendered thread bubbles, in each process's memory, under keys of what they show (inbox.rendering).
    "bubbles": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "bubbles",
        "TIMEOUT": 24 * 3600,
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    },
}

# --- Celery -----------------------------------------------------------------------------------------
# Default broker: kombu's filesystem transport under var/ (no server), made safe against half-written
# files by config.broker, which config.celery puts in its place. Production: Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
# A broker that stops answering (hung, failed over, a connection silently dropped) must not hold a web
# request: without socket timeouts a publish waits forever. With these it gives up within about 3 s, the
# caller logs it, and the periodic jobs (stored deliveries, queued messages) catch up. Read by the Redis
# transport; others ignore them. One publish retry covers a stale pooled connection.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "unreadable_folder": str(VAR_DIR / "celery-unreadable"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often the expiry sweep runs. R8: ended conversations are marked within a minute of expires_at.
CONVERSATION_SWEEP_SECONDS = env.float("CONVERSATION_SWEEP_SECONDS", default=15.0)
# /healthz/deep (config.health) fails when no worker has run the heartbeat for a few of its periods
# (one late beat is not an outage), or when an outbound message has stayed queued this long (the periodic
# requeue runs every 30 s, and a send normally leaves the queue within seconds).
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=30.0)
HEALTH_WORKER_STALE_AFTER_SECONDS = env.float(
    "HEALTH_WORKER_STALE_AFTER_SECONDS", default=3 * WORKER_HEARTBEAT_SECONDS
)
HEALTH_OUTBOUND_QUEUED_MAX_SECONDS = env.float("HEALTH_OUTBOUND_QUEUED_MAX_SECONDS", default=300.0)
# Periodic sweeps, never per-object countdown timers: expiry is data, the sweep only tidies up.
CELERY_BEAT_SCHEDULE = {
    "expire-due-conversations": {
        "task": "conversations.expire_due_conversations",
        "schedule": CONVERSATION_SWEEP_SECONDS,
        # A sweep still queued after its period is superseded by the next one.
        "options": {"expires": CONVERSATION_SWEEP_SECONDS},
    },
    # Deliveries that failed to process, or were never processed (a crash between store and process).
    "retry-webhook-deliveries": {
        "task": "whatsapp.retry_deliveries",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    },
    # Outbound messages left queued (the broker was down at commit time, a retry task was lost).
    "requeue-outbound-messages": {
        "task": "whatsapp.requeue_outbound",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    },
    # Customers' media files still pending: a retry due, or a task lost (whatsapp.media).
    "requeue-media": {
        "task": "whatsapp.requeue_media",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Snoozed threads whose time came: tidying only (reads compare snoozed_until with now).
    "end-due-snoozes": {
        "task": "conversations.end_due_snoozes",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Proof for /healthz/deep that a worker runs the beat schedule (config.health).
    "worker-heartbeat": {
        "task": "config.heartbeat",
        "schedule": WORKER_HEARTBEAT_SECONDS,
        "options": {"expires": WORKER_HEARTBEAT_SECONDS},
    },
    # Sign-in records (django-axes' access log: who, from which address and browser) past their retention.
    "forget-old-sign-ins": {
        "task": "accounts.forget_old_sign_ins",
        "schedule": 24 * 3600.0,
        "options": {"expires": 3600.0},
    },
    # Report days old enough go into the daily rollup (idempotent; a run that finds one working skips).
    "refresh-report-rollup": {
        "task": "reports.refresh_rollup",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
}

# --- WhatsApp Cloud API --------------------------------------------------------------------------
# With no access token the app talks to a local sandbox that behaves like the platform (whatsapp/sandbox.py).
WHATSAPP_API_BASE = env.str("WHATSAPP_API_BASE", default="https://graph.facebook.com")
# Graph API v26.0 (July 2026) is the newest Meta lists; each version is switched off about two years after
# the next one appears (developers.facebook.com/docs/graph-api/changelog). From v24.0 on, status webhooks
# omit the `conversation` object except inside a free-entry-point window.
WHATSAPP_API_VERSION = env.str("WHATSAPP_API_VERSION", default="v26.0")
WHATSAPP_PHONE_NUMBER_ID = env.str("WHATSAPP_PHONE_NUMBER_ID", default="")
WHATSAPP_BUSINESS_ACCOUNT_ID = env.str("WHATSAPP_BUSINESS_ACCOUNT_ID", default="")
WHATSAPP_ACCESS_TOKEN = env.str("WHATSAPP_ACCESS_TOKEN", default="")
WHATSAPP_SANDBOX = not WHATSAPP_ACCESS_TOKEN
# Development values, public like DEVELOPMENT_SECRET_KEY; the deploy checks refuse them.
DEVELOPMENT_WHATSAPP_APP_SECRET = "sandbox-app-secret"  # noqa: S105
DEVELOPMENT_WHATSAPP_VERIFY_TOKEN = "sandbox-verify-token"  # noqa: S105
WHATSAPP_APP_SECRET = env.str("WHATSAPP_APP_SECRET", default=DEVELOPMENT_WHATSAPP_APP_SECRET)
WHATSAPP_VERIFY_TOKEN = env.str("WHATSAPP_VERIFY_TOKEN", default=DEVELOPMENT_WHATSAPP_VERIFY_TOKEN)
WHATSAPP_HTTP_TIMEOUT = env.float("WHATSAPP_HTTP_TIMEOUT", default=15.0)
# The platform batches up to ~3 MB; anything over 4 MB is refused unread.
WHATSAPP_WEBHOOK_MAX_BYTES = 4 * 1024 * 1024
# Deliveries up to this size are processed in the request (no broker needed); larger ones by a task.
WHATSAPP_WEBHOOK_INLINE_MAX_BYTES = env.int("WHATSAPP_WEBHOOK_INLINE_MAX_BYTES", default=256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = WHATSAPP_WEBHOOK_MAX_BYTES + 1024

# --- Auth ---------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a username and address that failed too often before the password is even compared.
    "accounts.throttling.ThrottledSignIn",
    "accounts.backends.RoleBackend",  # ModelBackend, its permissions in one query
]
# Sign-in throttling (django-axes): wrong passwords are counted per username *and* address, so an attacker
# guessing one account neither locks its owner out elsewhere nor slows anyone else down. Every failure
# during a pause starts the pause again; a success clears the count; an admin unlocks in the admin.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# How long a sign-in record is kept (accounts.tasks, daily): who signed in, from which address and browser.
SIGN_IN_LOG_RETENTION_DAYS = env.int("SIGN_IN_LOG_RETENTION_DAYS", default=90)
AXES_LOCKOUT_CALLABLE = "accounts.throttling.locked_out"
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_ip"
LOGIN_URL = "inbox:login"
LOGIN_REDIRECT_URL = "inbox:home"
LOGOUT_REDIRECT_URL = "inbox:login"

# --- Time and language ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
BUSINESS_TIME_ZONE = env.str("BUSINESS_TIME_ZONE", default="UTC")
# The business's country (ISO 3166-1 alpha-2): a phone number searched in national format is read as one
# of its numbers ("020 7946 0958" in GB finds +44 20 7946 0958).
BUSINESS_COUNTRY = env.str("BUSINESS_COUNTRY", default="US").upper()

# --- Static files (whitenoise) ---------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Customers' media files (whatsapp.media) go through Django's storage API: a folder under var/ by default,
# an S3-compatible bucket (AWS S3, MinIO, …) with MEDIA_STORAGE=s3. Never served from a public URL: the
# inbox streams them to signed-in agents (inbox.views.media), so the bucket stays private.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="filesystem")
if MEDIA_STORAGE == "s3":
    MEDIA_STORAGE_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,
        },
    }
else:
    MEDIA_STORAGE_BACKEND = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }
STORAGES = {
    "default": MEDIA_STORAGE_BACKEND,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            # Hashed names once collectstatic has written its manifest (the Docker image does at build).
            if env.bool("DJANGO_MANIFEST_STATIC", default=(STATIC_ROOT / "staticfiles.json").exists())
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Tests and local runs without collectstatic still find files through the finders.
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_ROOT.exists()
WHITENOISE_MANIFEST_STRICT = False

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# How long a sign-in lasts (seconds; Django's two weeks by default). When it ends, the inbox shows "you
# were signed out" and keeps what the agent typed (inbox.access, static/inbox/inbox.js).
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=14 * 24 * 3600)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
# Behind the TLS proxy (nothing else reaches gunicorn) its headers are trusted: X-Forwarded-Proto here, and
# the address it appends to X-Forwarded-For for sign-in throttling (accounts.throttling.client_ip).
BEHIND_TLS_PROXY = env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# A strict policy: no inline scripts or styles anywhere; behaviour comes from static files.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Error tracking (Sentry): off unless SENTRY_DSN is set ----------------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from config.error_tracking import start_sentry

    start_sentry(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        release=env.str("SENTRY_RELEASE", default="") or None,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# --- Logging --------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
