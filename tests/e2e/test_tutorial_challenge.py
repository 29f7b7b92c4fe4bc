"""The challenge docs/authoring.md builds, extracted from the page and put through the real
gate: what a firm's author follows must produce a challenge fit for candidates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.present.specdoc import shown_files
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import check, cli_json, failures

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


@pytest.fixture(scope="module")
def verdict(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("my-challenges")
    for rel, content in shown_files((REPO_ROOT / "docs" / "authoring.md").read_text()).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return cli_json(
        "--challenges-dir",
        str(folder),
        "challenge",
        "validate",
        "hello-service",
        "--json",
        data_dir=data_dir,
        codes=(0, 1),
        timeout=1800,
    )


def test_the_tutorial_challenge_passes_the_gate(verdict: dict[str, Any]) -> None:
    assert verdict["ok"], failures(verdict)


def test_the_constant_answer_cheat_scores_zero_on_both_graders(verdict: dict[str, Any]) -> None:
    hard_coded = check(verdict, "hard-coded")
    assert not hard_coded["skipped"]
    assert {name: o["score"] for name, o in hard_coded["attacked"].items()} == {
        "correctness": 0.0,
        "robustness": 0.0,
    }
