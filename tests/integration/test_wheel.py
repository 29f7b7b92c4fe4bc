"""prodproven installs from a wheel, not only from a checkout: the wheel built from the repository
holds nothing but the ``prodproven`` package (code and package data) and its metadata, and once
installed in a fresh virtual environment its command works from a folder far from any checkout.

The wheel is built from a copy of what pyproject.toml packages (building in place would write
``build/`` into the working tree); the fresh environment gets its dependencies through pip, whose
cache makes this take one to two minutes (most of it resolving and unpacking the dependencies).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

BUILD_TIMEOUT_S = 300
"""Building the wheel (pip fetches setuptools into its isolated build environment)."""
INSTALL_TIMEOUT_S = 600
"""Installing the wheel and its dependencies into a fresh environment."""
COMMAND_TIMEOUT_S = 60
"""One ``prodproven`` command of the installed wheel."""
BUILTIN = ("capacity-plan", "deploy-model", "fix-drift", "incident-response")
SHIPPED_FOLDERS = ("challenges", "sandbox/images", "sandbox/scripts", "graders/probes")
"""Folders of data and container-side scripts that the code reads at run time."""
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    elsewhere: Path
    """An empty folder outside the checkout to run commands from."""

    @property
    def site_packages(self) -> Path:
        return next((self.venv / "lib").glob("python3*/site-packages"))

    def prodproven(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PRODPROVEN_"))}
        env["PRODPROVEN_DATA_DIR"] = str(self.elsewhere / "data")
        return subprocess.run(
            [str(self.venv / "bin" / "prodproven"), *args],
            cwd=self.elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )


def package_dir() -> dict[str, str]:
    """pyproject.toml's package-dir: installed package name -> folder of the checkout."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    folders: dict[str, str] = pyproject["tool"]["setuptools"]["package-dir"]
    return folders


def run(cmd: list[str], cwd: Path, timeout: float) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    output = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{output}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ["pyproject.toml", "README.md", *package_dir().values()]:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name, ignore=IGNORED)
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    run([*pip, "wheel", "--no-deps", ".", "-w", str(root / "dist")], source, BUILD_TIMEOUT_S)
    wheel = next((root / "dist").glob("prodproven-*.whl"))
    venv = root / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root, BUILD_TIMEOUT_S)
    python = str(venv / "bin" / "python")
    install = [*pip, "--python", python, "install", "--no-compile", str(wheel)]
    run(install, root, INSTALL_TIMEOUT_S)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return Installed(wheel=wheel, venv=venv, elsewhere=elsewhere)


def test_the_wheel_holds_only_the_prodproven_package_and_its_metadata(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        tops = {name.split("/")[0] for name in wheel.namelist()}
    assert "prodproven" in tops
    assert [top for top in tops if not re.fullmatch(r"prodproven(-[^-]+\.dist-info)?", top)] == []


def test_the_wheel_ships_every_challenge_recipe_and_container_script_file(
    installed: Installed,
) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    installed_as = {folder: package.replace(".", "/") for package, folder in package_dir().items()}
    for folder in SHIPPED_FOLDERS:
        top = folder.split("/")[0]
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                shipped = f"{installed_as[top]}/{path.relative_to(REPO_ROOT / top).as_posix()}"
                assert shipped in names, f"{path.relative_to(REPO_ROOT)} is not in the wheel"
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_nothing_generic_lands_at_the_top_of_site_packages(installed: Installed) -> None:
    top = {path.name for path in installed.site_packages.iterdir()}
    assert "prodproven" in top
    assert not top & {"runner", "sandbox", "graders", "challenges"}


def test_the_installed_command_lists_the_builtin_challenges_outside_a_checkout(
    installed: Installed,
) -> None:
    listed = installed.prodproven("challenge", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    ids = {entry.get("id") for entry in json.loads(listed.stdout)}
    assert ids >= set(BUILTIN)


def test_the_installed_command_explains_building_a_challenges_images(
    installed: Installed,
) -> None:
    shown = installed.prodproven("images", "build", "deploy-model", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "Usage:" in shown.stdout
