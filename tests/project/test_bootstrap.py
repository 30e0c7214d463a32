"""./dev finds a Python 3.12+ on a machine where the obvious names lie: a pyenv shim named python3.13
that fails unless a version is selected, and a python3 that is 3.11."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fake(bin_dir: Path, name: str, script: str):
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def which_python(path: str, home: Path, **env) -> subprocess.CompletedProcess:
    environment = {"PATH": path, "HOME": str(home), **env}
    return subprocess.run(
        [ROOT / "dev", "which-python"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_skips_failing_shims_and_old_pythons_and_finds_pyenv_versions(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake(bin_dir, "python3.13", 'echo "pyenv: python3.13: command not found" >&2; exit 127')
    fake(bin_dir, "python3", "exit 1")  # a 3.11 answers the version check with a failure
    real = Path(sys.executable).resolve()
    pyenv_root = tmp_path / "pyenv"
    (pyenv_root / "versions" / "3.11.7" / "bin").mkdir(parents=True)
    fake(pyenv_root / "versions" / "3.11.7" / "bin", "python3", "exit 1")
    version_bin = pyenv_root / "versions" / f"{sys.version_info.major}.{sys.version_info.minor}.0" / "bin"
    version_bin.mkdir(parents=True)
    (version_bin / "python3").symlink_to(real)

    found = which_python(f"{bin_dir}:/usr/bin:/bin", tmp_path, PYENV_ROOT=str(pyenv_root))
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(version_bin / "python3")


def test_python_variable_wins_and_a_clear_error_when_nothing_fits(tmp_path):
    found = which_python("/usr/bin:/bin", tmp_path, PYTHON=sys.executable, PYENV_ROOT=str(tmp_path / "none"))
    assert found.stdout.strip().endswith(os.path.basename(sys.executable))

    # A PATH with the shell tools the script needs and no Python at all, and no pyenv under this HOME.
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ["env", "bash", "dirname", "ls", "sort", "cut"]:
        (tools / tool).symlink_to(shutil.which(tool))
    missing = which_python(str(tools), tmp_path, PYENV_ROOT=str(tmp_path / "none"))
    assert missing.returncode != 0
    assert "no Python 3.12 or newer found" in missing.stderr
