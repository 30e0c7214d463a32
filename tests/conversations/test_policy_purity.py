"""The pure modules import nothing from Django (house style: policy.py is pure Python), and the apps'
layers point one way (issue 12).

Two proofs: import-linter's contracts over the source (static, pyproject.toml), and a fresh interpreter
that imports each pure module has no `django` module loaded afterwards (dynamic: catches
`importlib.import_module` too).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

PURE_MODULES = {
    "conversations.policy": REPO_ROOT / "conversations" / "policy.py",
    "templates_app.placeholders": REPO_ROOT / "templates_app" / "placeholders.py",
    "templates_app.validation": REPO_ROOT / "templates_app" / "validation.py",
    "templates_app.components": REPO_ROOT / "templates_app" / "components.py",
    "templates_app.statuses": REPO_ROOT / "templates_app" / "statuses.py",
    "templates_app.platform": REPO_ROOT / "templates_app" / "platform.py",
    "templates_app.exceptions": REPO_ROOT / "templates_app" / "exceptions.py",
    "templates_app.sending": REPO_ROOT / "templates_app" / "sending.py",
    "templates_app.rendering": REPO_ROOT / "templates_app" / "rendering.py",
    "conversations.exceptions": REPO_ROOT / "conversations" / "exceptions.py",
}
# Importing a submodule runs its package's __init__ first: those must be pure too.
PACKAGE_INITS = {
    "conversations": REPO_ROOT / "conversations" / "__init__.py",
    "templates_app": REPO_ROOT / "templates_app" / "__init__.py",
}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_hold():
    """The static proof, by import-linter (pyproject.toml, [tool.importlinter]): the apps' layers point
    one way, and the pure modules import no Django, directly or through another module of ours."""
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_the_contracts_would_catch_an_upward_import_and_django_in_a_pure_module(tmp_path):
    """Guard against a vacuous pass: the same kinds of contract fail on a tree that breaks them."""
    for package, source in {
        "low": "",
        "low/rules.py": "from django.conf import settings\n",  # Django in a pure module
        "high": "",
        "high/views.py": "import low.rules\n",
        "low/service.py": "from high import views\n",  # upward
    }.items():
        path = tmp_path / (package if package.endswith(".py") else f"{package}/__init__.py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_packages =\n    low\n    high\ninclude_external_packages = True\n\n"
        "[importlinter:contract:layers]\nname = layers\ntype = layers\nlayers =\n    high\n    low\n\n"
        "[importlinter:contract:pure]\nname = pure\ntype = forbidden\n"
        "source_modules =\n    low.rules\nforbidden_modules =\n    django\n",
        encoding="utf-8",
    )
    result = lint_imports(str(tmp_path / ".importlinter"), cwd=tmp_path)
    assert result.returncode != 0
    assert (
        "low is not allowed to import high" in result.stdout and "low.service -> high.views" in result.stdout
    )
    assert "low.rules is not allowed to import django" in result.stdout


def _django_modules_after_importing(module: str) -> list[str]:
    code = (
        "import json, sys; "
        f"import {module}; "
        "print(json.dumps([m for m in sys.modules if m == 'django' or m.startswith('django.')]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", [*PURE_MODULES, *PACKAGE_INITS])
def test_a_fresh_interpreter_importing_the_module_loads_no_django(module):
    assert _django_modules_after_importing(module) == []


def test_the_subprocess_check_would_see_django():
    """Guard against a vacuous pass: importing a Django-backed module is reported."""
    assert "django" in _django_modules_after_importing("django.utils.timezone")
