# syntax=docker/dockerfile:1
# The production image. web (gunicorn), the Celery worker and beat all run it; see docker-compose.yml.

# --- Dependencies: exactly what uv.lock says, installed by the same uv as ./dev ---------------------
FROM python:3.13-slim AS dependencies
RUN pip install --no-cache-dir --disable-pip-version-check uv==0.13.9
# The image's own Python, never a downloaded one; the venv is copied to the same path below, because
# its scripts (gunicorn, celery) name their interpreter by absolute path.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# --- Runtime ------------------------------------------------------------------------------------------
FROM python:3.13-slim
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app
WORKDIR /app
COPY --from=dependencies /app/.venv /app/.venv
COPY . .
# Static files are built into the image, with the manifest whitenoise needs to serve hashed names.
# The settings need some key to load, so this one exists for this command only and is never part of
# the image's environment (config/checks.py refuses it anyway). VAR_DIR keeps scratch files out of /app.
RUN DJANGO_SECRET_KEY=collectstatic-build-only-not-a-secret DJANGO_MANIFEST_STATIC=true \
    VAR_DIR=/tmp/build-var python manage.py collectstatic --no-input
# VAR_DIR (/app/var) is where beat keeps its schedule: writable by the app user, and a volume in compose
# starts out with this ownership.
RUN install --directory --owner=app --group=app /app/var

USER app
EXPOSE 8000
# docker-compose.yml's web service runs the deploy checks first, then this with --workers.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--no-control-socket"]
