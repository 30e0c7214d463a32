"""The production deployment: Dockerfile, docker-compose.yml, .env.example and config/checks.py.

There is no Docker engine where these tests run, so nothing here builds the image or starts compose.
Instead the commands those files give the containers run here as the containers would run them: the
same argv, with the environment compose would pass (.env.example, then the service's `environment:`),
against the real PostgreSQL and Redis where a test is marked so. What only Docker can prove (the image
builds, the volumes mount) stays unproven here.
"""

import hashlib
import importlib
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from celery.app.utils import find_app
from celery.bin.celery import celery as celery_cli
from django.core.checks import ERROR, Tags, run_checks
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import get_commands
from django.db import connection
from django.urls import resolve

from config import checks
from config.celery import app as celery_app
from inbox import views as inbox_views
from tests.processes import free_port, started, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
APP_SERVICES = {"migrate", "web", "worker", "beat"}
LONG_RUNNING_SERVICES = {"postgres", "redis", "minio", "web", "worker", "beat"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)
# Compose's interpolation: $$ is a literal $, then ${NAME}, ${NAME:-default}, ${NAME:?error}, $NAME.
COMPOSE_VARIABLE = re.compile(r"\$\$|\$\{(?P<braced>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")
CHECK_DEPLOY = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]


# --- Reading the files ----------------------------------------------------------------------------------
def env_example() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def interpolate(text: str, variables: dict[str, str]) -> str:
    def substitute(match):
        if match.group() == "$$":
            return "$"
        name = match["braced"] or match["bare"]
        value = variables.get(name, "")
        if not value and match["op"] in (":?", "?"):
            raise KeyError(f"compose would refuse to start: {name} is not set ({match['arg']})")
        if not value and match["op"] in (":-", "-"):
            return match["arg"]
        return value

    return COMPOSE_VARIABLE.sub(substitute, text)


def raw_compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


def compose() -> dict:
    """docker-compose.yml as `docker compose config` would see it with .env copied from .env.example."""
    return yaml.safe_load(interpolate(raw_compose_text(), env_example()))


def service_environment(service: str, **overrides: str) -> dict[str, str]:
    """The environment the service's container gets, then overrides for what differs on this machine."""
    definition = compose()["services"][service]
    assert definition["env_file"] == ".env"
    return {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        **env_example(),
        **{name: str(value) for name, value in definition.get("environment", {}).items()},
        **overrides,
    }


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a `cmd && cmd || cmd` line, without `exec` and `NAME=value` prefixes."""
    commands = []
    for part in re.split(r"&&|\|\||;", script):
        argv = shlex.split(part)
        while argv and (argv[0] == "exec" or re.fullmatch(r"\w+=\S*", argv[0])):
            argv = argv[1:]
        if argv:
            commands.append(argv)
    return commands


def healthcheck_commands(healthcheck: dict) -> list[list[str]]:
    kind, *rest = healthcheck["test"]
    if kind == "CMD-SHELL":
        return shell_commands(rest[0])
    assert kind == "CMD"
    return [rest]


def service_commands(service: dict) -> list[list[str]]:
    command = service.get("command")
    if not command:
        commands = []
    elif command[:2] == ["sh", "-c"]:
        commands = shell_commands(command[2])
    else:
        commands = [command]
    if "healthcheck" in service:
        commands += healthcheck_commands(service["healthcheck"])
    return commands


def all_commands() -> list[list[str]]:
    """Every command the deployment files run, from compose's services and the Dockerfile's RUN and CMD."""
    commands = [argv for service in compose()["services"].values() for argv in service_commands(service)]
    for keyword, arguments in dockerfile_instructions():
        if keyword == "RUN":
            commands += shell_commands(re.sub(r"^(--\S+\s+)+", "", arguments))
        elif keyword == "CMD":
            commands.append(json.loads(arguments))
    return commands


def web_healthcheck_script() -> str:
    kind, python, dash_c, script = compose()["services"]["web"]["healthcheck"]["test"]
    assert (kind, python, dash_c) == ("CMD", "python", "-c")
    return script


def collectstatic_run() -> str:
    [run] = [arguments for keyword, arguments in dockerfile_instructions() if "collectstatic" in arguments]
    return run


def production_environment(**overrides: str) -> dict[str, str]:
    """The web container's environment with .env filled in: a real key; the database may not exist."""
    filled_in = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": "postgres://u:p@db.example:5432/app",
        "WHATSAPP_ACCESS_TOKEN": secrets.token_urlsafe(32),
        "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
        "WHATSAPP_BUSINESS_ACCOUNT_ID": "102290129340398",
        "WHATSAPP_APP_SECRET": secrets.token_hex(16),
        "WHATSAPP_VERIFY_TOKEN": secrets.token_urlsafe(16),
    }
    return service_environment("web", **{**filled_in, **overrides})


def development_environment(tmp_path, **variables: str) -> dict[str, str]:
    """Nothing set, as on a laptop: every setting takes its embedded default."""
    return {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), **variables}


def run_check_deploy(environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *CHECK_DEPLOY],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- docker-compose.yml ---------------------------------------------------------------------------------
def test_compose_has_the_long_running_services_and_a_one_shot_migrate():
    services = compose()["services"]
    assert set(services) == LONG_RUNNING_SERVICES | {"migrate"}
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    for name in LONG_RUNNING_SERVICES:
        assert services[name]["restart"] == "unless-stopped", name


def test_compose_runs_the_app_services_from_the_built_image_and_the_rest_from_pinned_images():
    services = compose()["services"]
    assert re.fullmatch(r"postgres:1[56](\.\d+)*", services["postgres"]["image"])
    assert re.fullmatch(r"redis:7(\.\d+)*", services["redis"]["image"])
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1, images
    for name in APP_SERVICES:
        assert services[name]["build"] == ".", f"{name} is not built from this repository's Dockerfile"
    for name in ("postgres", "redis"):
        assert "build" not in services[name]


def test_every_service_but_migrate_has_a_healthcheck():
    services = compose()["services"]
    for name in LONG_RUNNING_SERVICES:
        assert healthcheck_commands(services[name]["healthcheck"]), name
    assert "healthcheck" not in services["migrate"]
    assert healthcheck_commands(services["postgres"]["healthcheck"])[0][0] == "pg_isready"
    assert healthcheck_commands(services["redis"]["healthcheck"]) == [["redis-cli", "ping"]]


def test_compose_starts_services_only_once_what_they_need_is_ready():
    services = compose()["services"]

    def conditions(name):
        return {needed: rule["condition"] for needed, rule in services[name]["depends_on"].items()}

    assert conditions("migrate") == {"postgres": "service_healthy"}
    for name in ("web", "worker"):
        assert conditions(name)["migrate"] == "service_completed_successfully", name
        assert conditions(name)["redis"] == "service_healthy", name
    assert conditions("beat")["redis"] == "service_healthy"


def test_app_services_read_dot_env_and_reach_the_compose_databases():
    for name in APP_SERVICES:
        environment = service_environment(name)
        database = urlsplit(environment["DATABASE_URL"])
        assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432), name
        assert database.password == env_example()["POSTGRES_PASSWORD"], "DATABASE_URL and postgres disagree"
        for variable in ("REDIS_URL", "CELERY_BROKER_URL"):
            url = urlsplit(environment[variable])
            assert (url.scheme, url.hostname) == ("redis", "redis"), (name, variable)
    postgres = compose()["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"] == env_example()["POSTGRES_PASSWORD"]


def test_compose_holds_no_secret_values():
    text = raw_compose_text()
    definition = yaml.safe_load(text)
    for name, service in definition["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(variable):
                assert re.fullmatch(r"\$\{\w+(:\?[^}]*)?\}", str(value)), f"{name}: {variable} is written out"
    for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", text):
        assert re.fullmatch(r"\$\{\w+(:\?[^}]*)?\}", password), (
            f"a URL in the file holds a password: {password}"
        )
    assert "DJANGO_SECRET_KEY" not in text
    for variable, value in env_example().items():
        if SECRET_NAME.search(variable):
            assert value not in text, f"the value of {variable} from .env.example is in docker-compose.yml"


def test_web_runs_the_deploy_checks_before_gunicorn():
    command = compose()["services"]["web"]["command"]
    assert command[:2] == ["sh", "-c"]
    assert re.fullmatch(
        r"python manage.py check --deploy --fail-level WARNING\s+&& exec gunicorn .*", command[2]
    )
    assert command[2].count("&&") == 1, "the check must gate gunicorn, and nothing else"
    [check, gunicorn] = shell_commands(command[2])
    assert ["python", *CHECK_DEPLOY] == check
    assert gunicorn[:2] == ["gunicorn", "config.wsgi:application"]
    assert gunicorn[gunicorn.index("--workers") + 1] == "${WEB_CONCURRENCY:-3}"


# --- Every command points at something that exists ----------------------------------------------------
def test_every_gunicorn_target_is_the_projects_wsgi_application(transactional_db):
    targets = {argv[1] for argv in all_commands() if argv[0] == "gunicorn"}
    assert targets == {"config.wsgi:application"}  # the Dockerfile's CMD and web's command
    module_name, attribute = targets.pop().split(":")
    module = importlib.import_module(module_name)
    application = getattr(module, attribute)
    # Django's handler for every page; the webhook's POSTs have a bare WSGI application of their own.
    assert callable(application)
    assert isinstance(module.django_application, WSGIHandler)
    assert callable(module.platform_application)
    # A WSGI call, as gunicorn makes it: the healthcheck's URL answers with the database reachable.
    responses = []
    body = application(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/healthz",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "HTTP_HOST": "localhost",
            "wsgi.input": BytesIO(),
            "wsgi.url_scheme": "http",
        },
        lambda status, headers: responses.append(status),
    )
    assert responses == ["200 OK"]
    assert json.loads(b"".join(body)) == {"status": "ok"}


def test_every_celery_app_is_the_projects_celery_app():
    celery_commands = [argv for argv in all_commands() if argv[0] == "celery"]
    assert {argv[argv.index("-A") + 1] for argv in celery_commands} == {"config"}
    assert find_app("config") is celery_app
    subcommands = {argv[argv.index("-A") + 2] for argv in celery_commands}
    assert subcommands == {"worker", "beat", "inspect"}
    assert subcommands <= set(celery_cli.commands)


def test_every_manage_py_command_exists():
    used = {argv[2] for argv in all_commands() if argv[:2] == ["python", "manage.py"]}
    assert used == {"migrate", "check", "collectstatic"}
    assert used <= set(get_commands())


def test_the_web_healthcheck_asks_for_the_healthz_view():
    [url] = re.findall(r"http://127\.0\.0\.1:8000(/\S*?)[\"']", web_healthcheck_script())
    assert resolve(url).func is inbox_views.healthz
    assert "8000" in compose()["services"]["web"]["command"][2]
    assert ("EXPOSE", "8000") in dockerfile_instructions()


# --- Dockerfile and .dockerignore ----------------------------------------------------------------------
def test_dockerfile_builds_from_python_3_13_slim_with_the_locked_dependencies():
    instructions = dockerfile_instructions()
    bases = [arguments.split()[0] for keyword, arguments in instructions if keyword == "FROM"]
    assert bases and set(bases) == {"python:3.13-slim"}
    dev_uv_version = re.search(r'^UV_VERSION="([^"]+)"', (ROOT / "dev").read_text(), re.MULTILINE)[1]
    runs = [arguments for keyword, arguments in instructions if keyword == "RUN"]
    assert any(f"uv=={dev_uv_version}" in run for run in runs), "the image's uv differs from ./dev's"
    assert any(re.search(r"\buv sync --frozen --no-dev\b", run) for run in runs)


def test_dockerfile_runs_as_a_non_root_user_and_serves_gunicorn_on_8000():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")
    assert keywords[-1] == "CMD"
    cmd = json.loads(instructions[-1][1])
    assert cmd[:2] == ["gunicorn", "config.wsgi:application"]
    assert cmd[cmd.index("--bind") + 1] == "0.0.0.0:8000"
    # The image's own command serves as compose's web does, minus the checks and the worker count.
    [_check, web_gunicorn] = shell_commands(compose()["services"]["web"]["command"][2])
    assert set(cmd) <= set(web_gunicorn)


def test_the_build_time_secret_key_is_only_for_collectstatic_and_refused_at_run_time(settings):
    instructions = dockerfile_instructions()
    assert not any(
        keyword in ("ENV", "ARG") and "DJANGO_SECRET_KEY" in arguments for keyword, arguments in instructions
    ), "the build's key would stay in the image"
    [build_key] = re.findall(r"DJANGO_SECRET_KEY=(\S+)", collectstatic_run())
    settings.SECRET_KEY = build_key
    assert [error.id for error in checks.check_secret_key(None)] == ["config.E001"]


def test_the_dockerfiles_collectstatic_runs_with_its_build_time_environment(tmp_path):
    *assignments, python, manage_py, command, flag = shlex.split(collectstatic_run())
    assert (python, manage_py, command, flag) == ("python", "manage.py", "collectstatic", "--no-input")
    environment = {
        "PATH": os.environ["PATH"],
        **dict(assignment.split("=", 1) for assignment in assignments),
        # Here, not in /app and /tmp: only the destinations differ from the build.
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    result = subprocess.run(
        [sys.executable, manage_py, command, flag],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists(), (
        "no manifest: whitenoise cannot serve hashed names"
    )


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    # .venv especially: COPY . . would replace the image's venv with this machine's.
    assert {".env", ".git", ".venv", "var", "staticfiles"} <= ignored


# --- .env.example ---------------------------------------------------------------------------------------
def settings_variables() -> set[str]:
    """Every environment variable config/settings.py reads (env.str("NAME"), env.bool("NAME"), …)."""
    source = (ROOT / "config" / "settings.py").read_text()
    return set(
        re.findall(r"\.(?:str|bool|int|float|list|db_url|url|json|path)\(\s*\"([A-Z][A-Z0-9_]*)\"", source)
    )


def test_env_example_sets_every_variable_the_settings_and_compose_read():
    variables = settings_variables()
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "VAR_DIR"} <= variables  # parsed
    compose_variables = set(re.findall(r"\$\{(\w+)", raw_compose_text()))
    assert {"POSTGRES_PASSWORD", "WEB_CONCURRENCY"} <= compose_variables
    assert variables | compose_variables <= set(env_example())


def test_env_example_explains_every_variable():
    previous = ""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if re.match(r"\w+=", line):
            assert previous.startswith("#"), f"no comment above {line}"
        previous = line


def test_env_example_leaves_the_secret_key_to_be_generated(settings):
    settings.SECRET_KEY = env_example()["DJANGO_SECRET_KEY"]
    [error] = checks.check_secret_key(None)
    assert error.id == "config.E001"
    assert "secrets.token_urlsafe" in (ROOT / ".env.example").read_text()


# --- config/checks.py, in process -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("secret_key", "problem"),
    [
        ("django-insecure-development-only-never-use-in-production", "public development key"),
        ("change-me", "placeholder"),
        ("change-me-to-a-long-random-string-of-at-least-fifty-characters", "placeholder"),
        ("django-insecure-" + "x" * 60, "placeholder"),
        # Random, yet the same in every pytest-xdist worker (they must collect the same test ids).
        (hashlib.sha256(b"a short secret key").hexdigest()[:48], "48 characters; at least 50"),
    ],
)
def test_secret_key_check_refuses(settings, secret_key, problem):
    settings.SECRET_KEY = secret_key
    [error] = checks.check_secret_key(None)
    assert (error.id, error.level) == ("config.E001", ERROR)
    assert problem in error.msg
    assert secret_key not in error.msg
    assert "DJANGO_SECRET_KEY" in error.hint


def test_secret_key_check_accepts_a_generated_key(settings):
    settings.SECRET_KEY = secrets.token_urlsafe(64)
    assert checks.check_secret_key(None) == []


@pytest.mark.parametrize(("debug", "ids"), [(True, ["config.E002"]), (False, [])])
def test_debug_check(settings, debug, ids):
    settings.DEBUG = debug
    errors = checks.check_debug(None)
    assert [error.id for error in errors] == ids
    assert all("DJANGO_DEBUG" in error.hint for error in errors)


@pytest.mark.parametrize(
    ("broker_url", "ids"),
    [
        ("filesystem://", ["config.E003"]),
        ("memory://", ["config.E003"]),
        ("redis://redis:6379/0", []),
        ("rediss://:token@cache.example:6380/0", []),
    ],
)
def test_celery_broker_check(settings, broker_url, ids):
    settings.CELERY_BROKER_URL = broker_url
    errors = checks.check_celery_broker(None)
    assert [error.id for error in errors] == ids
    assert all("CELERY_BROKER_URL" in error.hint for error in errors)


@pytest.mark.parametrize(
    ("engine", "ids"),
    [("django.db.backends.sqlite3", ["config.E004"]), ("django.db.backends.postgresql", [])],
)
@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")
def test_database_check(settings, engine, ids):
    settings.DATABASES = {"default": {"ENGINE": engine, "NAME": "app"}}
    errors = checks.check_database(None)
    assert [error.id for error in errors] == ids
    assert all("DATABASE_URL" in error.hint for error in errors)


def test_the_checks_run_only_with_deploy(settings):
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = "filesystem://"

    def ids(**options):
        return {message.id for message in run_checks(tags=[Tags.security], **options)}

    assert {"config.E002", "config.E003"} <= ids(include_deployment_checks=True)
    assert not any(check_id.startswith("config.") for check_id in ids())  # ./dev demo is not bothered


# --- manage.py check --deploy, as the web container runs it ---------------------------------------------
def test_production_environment_passes_check_deploy_without_a_database_connection(tmp_path):
    result = run_check_deploy(production_environment(VAR_DIR=str(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("variables", "expected", "unexpected"),
    [
        pytest.param(
            {},
            {
                "config.E001": "DJANGO_SECRET_KEY",
                "config.E003": "CELERY_BROKER_URL",
                "config.E004": "DATABASE_URL",
                "config.E005": "WHATSAPP_APP_SECRET",
                "config.E006": "WHATSAPP_VERIFY_TOKEN",
                "config.E007": "WHATSAPP_ACCESS_TOKEN",
            },
            {"config.E002"},
            id="nothing-set",
        ),
        pytest.param(
            {"DJANGO_DEBUG": "true"},
            {
                "config.E001": "DJANGO_SECRET_KEY",
                "config.E002": "DJANGO_DEBUG",
                "config.E004": "DATABASE_URL",
            },
            set(),
            id="debug-on",
        ),
    ],
)
def test_development_defaults_fail_check_deploy(tmp_path, variables, expected, unexpected):
    result = run_check_deploy(development_environment(tmp_path, **variables))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for check_id, variable in expected.items():
        assert f"({check_id})" in output
        assert re.search(rf"\({check_id}\).*\n\s*HINT: .*{variable}", output), (
            f"{check_id} does not name {variable}"
        )
    for check_id in unexpected:
        assert f"({check_id})" not in output


def test_env_example_as_copied_fails_check_deploy_on_its_placeholder_secrets(tmp_path):
    environment = production_environment(VAR_DIR=str(tmp_path))
    for name in PLACEHOLDER_SECRETS:
        environment[name] = env_example()[name]
    result = run_check_deploy(environment)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert set(re.findall(r"\((config\.E\d+)\)", output)) == set(PLACEHOLDER_SECRETS.values())


# The secrets .env.example leaves as placeholders, and the check that refuses each.
PLACEHOLDER_SECRETS = {
    "DJANGO_SECRET_KEY": "config.E001",
    "WHATSAPP_APP_SECRET": "config.E005",
    "WHATSAPP_VERIFY_TOKEN": "config.E006",
    "WHATSAPP_ACCESS_TOKEN": "config.E007",
}


# --- The containers' commands, run here --------------------------------------------------------------
def web_command(port: int) -> list[str]:
    # The container owns port 8000; on this machine something else may.
    shell, dash_c, script = compose()["services"]["web"]["command"]
    return [shell, dash_c, script.replace("0.0.0.0:8000", f"127.0.0.1:{port}")]


def web_healthcheck(port: int, environment: dict[str, str]) -> int:
    script = web_healthcheck_script().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    return subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, timeout=30
    ).returncode


def test_web_refuses_to_start_with_the_development_defaults(tmp_path):
    log = tmp_path / "web.log"
    environment = development_environment(tmp_path, PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    process = started(web_command(free_port()), environment, log)
    try:
        returncode = process.wait(120)
    finally:
        if process.poll() is None:
            stop(process)
    assert returncode != 0
    assert "(config.E001)" in log.read_text()
    assert "Listening at" not in log.read_text(), "gunicorn started"


@pytest.mark.postgres
def test_web_command_serves_and_passes_its_healthcheck(django_db_setup, tmp_path):
    database = connection.settings_dict
    port = free_port()
    environment = production_environment(
        DATABASE_URL=(
            f"postgres://{database['USER']}:{database['PASSWORD'] or ''}"
            f"@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        ),
        VAR_DIR=str(tmp_path),
        WEB_CONCURRENCY="1",
    )
    assert web_healthcheck(port, environment) != 0, "the healthcheck passes with nothing listening"
    log = tmp_path / "web.log"
    process = started(web_command(port), environment, log)
    try:
        wait_until(
            lambda: web_healthcheck(port, environment) == 0, 60, "web did not pass its healthcheck", log
        )
        assert process.poll() is None
    finally:
        stop(process)
    assert process.returncode == 0, "gunicorn did not stop cleanly on SIGTERM (is it exec'd?)"
    assert "System check identified no issues" in log.read_text()


def celery_service_environment(service: str, broker_url: str, tmp_path, **overrides: str) -> dict[str, str]:
    return service_environment(
        service,
        CELERY_BROKER_URL=broker_url,
        REDIS_URL=broker_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        VAR_DIR=str(tmp_path),
        # Docker sets HOSTNAME to the container's host name; the healthchecks name nodes after it.
        HOSTNAME=socket.gethostname(),
        **overrides,
    )


def run_healthcheck(service: str, environment: dict[str, str]) -> int:
    [kind, script] = compose()["services"][service]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    return subprocess.run(
        ["sh", "-c", script], cwd=ROOT, env=environment, capture_output=True, timeout=60
    ).returncode


@pytest.mark.redis
def test_worker_command_passes_its_healthcheck(redis_url, tmp_path):
    environment = celery_service_environment("worker", redis_url, tmp_path)
    log = tmp_path / "worker.log"
    process = started(compose()["services"]["worker"]["command"], environment, log)
    try:
        wait_until(lambda: " ready." in log.read_text(), 60, "the worker did not start", log)
        assert run_healthcheck("worker", environment) == 0, log.read_text()
    finally:
        stop(process)


@pytest.mark.redis
def test_beat_command_sends_the_sweep_and_passes_its_healthcheck(redis_url, tmp_path):
    # The sweeps it queues expire after their one-second period: no worker will run them later.
    environment = celery_service_environment("beat", redis_url, tmp_path, CONVERSATION_SWEEP_SECONDS="1")
    log = tmp_path / "beat.log"
    process = started(compose()["services"]["beat"]["command"], environment, log)
    try:
        wait_until(
            lambda: "Sending due task expire-due-conversations" in log.read_text(),
            60,
            "beat sent no sweep",
            log,
        )
        assert run_healthcheck("beat", environment) == 0, log.read_text()
    finally:
        stop(process)
    # The schedule lives in VAR_DIR, which compose puts on the beat-state volume.
    assert list(tmp_path.glob("celerybeat-schedule*"))
    assert "/app/var" in " ".join(compose()["services"]["beat"]["volumes"])
    assert env_example()["VAR_DIR"] == "/app/var"
