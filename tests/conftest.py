from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from prodproven.runner import plugins
from prodproven.runner.config import REPO_ROOT
from prodproven.runner.spec.challenge import Catalog

BUILTIN = REPO_ROOT / "challenges"


@pytest.fixture
def catalog() -> Catalog:
    return plugins.catalog()


@pytest.fixture
def make_challenge(tmp_path: Path) -> Callable[..., Path]:
    """A copy of deploy-model's folder whose challenge.yaml is edited by ``change``."""

    def make(change: Callable[[dict], None] | None = None, *, raw: str | None = None) -> Path:
        root = tmp_path / "deploy-model"
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(BUILTIN / "deploy-model", root)
        spec_path = root / "challenge.yaml"
        if raw is not None:
            spec_path.write_text(raw)
        elif change is not None:
            spec = yaml.safe_load(spec_path.read_text())
            change(spec)
            spec_path.write_text(yaml.safe_dump(spec))
        return root

    return make
