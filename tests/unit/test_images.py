"""Image recipes are package data beside the image builder, and the commands it runs on the
host (debootstrap, tar, pip download, apt-get download) are stopped when they overrun their
time limit. A recipe's Debian packages are part of its identity."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prodproven.sandbox.errors import CommandTimeout, ImageError
from prodproven.sandbox.images import RECIPES, _recipe_hash, download_debs, run_on_host


def test_the_builtin_recipes_are_package_data_beside_the_builder() -> None:
    for name in ("runtime", "lab", "grader", "mlflow"):
        assert (RECIPES / name / "Dockerfile").is_file()
    assert (RECIPES / "base" / "bootstrap.sh").is_file()


def test_a_host_command_past_its_time_limit_is_stopped_and_named() -> None:
    with pytest.raises(CommandTimeout, match=r"tar of the root fs did not finish within 0 s"):
        run_on_host(["sleep", "5"], "tar of the root fs", 0.2)


def test_a_failing_host_command_shows_its_output() -> None:
    with pytest.raises(ImageError, match=r"debootstrap failed \(exit 3\):\nno mirror"):
        run_on_host(["sh", "-c", "echo no mirror >&2; exit 3"], "debootstrap", 5)


def test_the_grader_image_gets_haproxy_from_debian_packages() -> None:
    listed = (RECIPES / "grader" / "debs.txt").read_text().split()
    assert "haproxy" in listed
    assert "dpkg-deb -x" in (RECIPES / "grader" / "Dockerfile").read_text()


def test_changing_a_recipe_s_debian_packages_changes_its_image_tag(tmp_path: Path) -> None:
    recipe = tmp_path / "grader"
    shutil.copytree(RECIPES / "grader", recipe)
    before = _recipe_hash(recipe, "sha256:parent")
    (recipe / "debs.txt").write_text("haproxy\nliblua5.3-0\ncurl\n")
    assert _recipe_hash(recipe, "sha256:parent") != before


def test_debian_packages_without_apt_get_on_the_host_are_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = tmp_path / "debs.txt"
    listing.write_text("# the balancer\nhaproxy\n")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ImageError, match=r"\(haproxy\).*this host has no apt-get"):
        download_debs(listing, tmp_path, print)
