"""``prodproven similarity CHALLENGE`` (runner/cli/similarity.py): the operator's view, every
firm's graded submissions compared, as a table or JSON, at the documented threshold or one
given."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result

from prodproven.runner.cli.context import Context
from prodproven.runner.cli.main import cli
from prodproven.runner.config import Settings
from prodproven.runner.runs.store import Run, Store
from tests.unit.similaritysupport import (
    FIRST,
    INDEPENDENT,
    RENAMED_AND_REORDERED,
    STARTER,
    graded_with,
    write_folder,
)


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Run, Run, Run]:
    """Three graded submissions of deploy-model in the data directory's store, and a runner
    whose provisioner gives the starter from a folder (no engine)."""
    store = Store(Settings.from_env({}, data_dir=tmp_path).store_url)
    made = tuple(
        graded_with(store, tmp_path, name, code, challenge="deploy-model")
        for name, code in (("a", FIRST), ("b", RENAMED_AND_REORDERED), ("c", INDEPENDENT))
    )
    root = write_folder(tmp_path / "starter", STARTER)
    provisioner = SimpleNamespace(
        challenge_of=lambda run: None,
        material=lambda challenge, variant: SimpleNamespace(workspace=(root,)),
    )
    runner = SimpleNamespace(store=store, provisioner=provisioner)
    monkeypatch.setattr(Context, "runner", lambda self, progress: runner)
    return made[0], made[1], made[2]


def similarity(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path), "similarity", "deploy-model", *args]
    )


def test_json_lists_the_flagged_pair_with_its_regions(
    tmp_path: Path, planted: tuple[Run, Run, Run]
) -> None:
    first, renamed, _ = planted
    shown = similarity(tmp_path, "--json")
    assert shown.exit_code == 0, shown.output
    (pair,) = json.loads(shown.output)
    assert {pair["run_a"], pair["run_b"]} == {first.id, renamed.id}
    assert pair["matches"][0]["path_a"] == "solution.py" and pair["score"] >= 0.6


def test_a_lower_threshold_flags_more_and_the_table_names_the_runs(
    tmp_path: Path, planted: tuple[Run, Run, Run]
) -> None:
    assert len(json.loads(similarity(tmp_path, "--json", "--threshold", "0").output)) == 3
    table = similarity(tmp_path)
    assert table.exit_code == 0 and planted[0].id in table.output and "solution.py" in table.output


def test_no_pair_above_the_threshold_says_so(tmp_path: Path, planted: tuple[Run, Run, Run]) -> None:
    shown = similarity(tmp_path, "--threshold", "1")
    assert "no pair of deploy-model's graded submissions reaches 100%" in shown.output
