"""Shared by the challenge spec's tests (tests/unit/test_challenge*.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodproven.runner.errors import SpecError
from prodproven.runner.spec.challenge import Catalog, load_challenge


def problems_of(root: Path, catalog: Catalog) -> str:
    with pytest.raises(SpecError) as info:
        load_challenge(root, catalog)
    assert str(root / "challenge.yaml") in str(info.value)
    return str(info.value)
