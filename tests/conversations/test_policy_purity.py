"""The pure modules import nothing from Django (house style: policy.py is pure Python).

Two proofs: the source never names Django in an import (static), and a fresh interpreter that imports
each module has no `django` module loaded afterwards (dynamic: catches indirect imports too).
"""

from __future__ import annotations

import ast
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
    "conversations.exceptions": REPO_ROOT / "conversations" / "exceptions.py",
}
# Importing a submodule runs its package's __init__ first: those must be pure too.
PACKAGE_INITS = {
    "conversations": REPO_ROOT / "conversations" / "__init__.py",
    "templates_app": REPO_ROOT / "templates_app" / "__init__.py",
}
IMPORT_FUNCTIONS = {"__import__", "import_module"}


def _is_django(name: str | None) -> bool:
    return name is not None and (name == "django" or name.startswith("django."))


def django_imports(path: Path) -> list[str]:
    """Every place in `path` that imports Django, statically or through __import__/import_module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if _is_django(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_django(node.module):
            found.append(f"line {node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else None
            )
            first = node.args[0] if node.args else None
            if (
                name in IMPORT_FUNCTIONS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _is_django(first.value)
            ):
                found.append(f"line {node.lineno}: {name}({first.value!r})")
    return found


@pytest.mark.parametrize("path", list(PURE_MODULES.values()), ids=list(PURE_MODULES))
def test_source_never_imports_django(path):
    assert path.is_file(), path
    assert django_imports(path) == []


@pytest.mark.parametrize("path", list(PACKAGE_INITS.values()), ids=[f"{p}.__init__" for p in PACKAGE_INITS])
def test_package_inits_never_import_django(path):
    assert path.is_file(), path
    assert django_imports(path) == []


def test_the_ast_check_would_catch_each_kind_of_django_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os, django\n"
        "import django.utils.timezone as tz\n"
        "from django.db import models\n"
        "from django import forms\n"
        "def f():\n"
        "    import importlib\n"
        "    importlib.import_module('django.conf')\n"
        "    __import__('django')\n"
        "from djangoish import thing\n",  # not Django: must not be reported
        encoding="utf-8",
    )
    assert [finding.split(":")[0] for finding in django_imports(bad)] == [
        "line 1",
        "line 2",
        "line 3",
        "line 4",
        "line 7",
        "line 8",
    ]


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
