"""A run's workspace timeline (runner/runs/timeline.py), from tar streams as the engine gives
them: contents are stored once by their sha256, an unchanged workspace records nothing, the
cap keeps nothing of the snapshot that would pass it and stops the timeline, large files are
recorded by hash and size only, caches are left out, and the changes over time and each step's
diff are read back with their line counts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs.timeline import LARGE_BYTES, Change, Outcome, Timeline
from prodproven.sandbox import tarball

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CAP = 10 * 2**20


def stream(files: dict[str, bytes]) -> Generator[bytes, None, None]:
    """The workspace ``files`` as the engine streams a folder: a tar in chunks."""
    data = tarball.files({f"./{path}": content for path, content in files.items()}, owner=1000)
    for start in range(0, len(data), 4096):
        yield data[start : start + 4096]


@pytest.fixture
def timeline(tmp_path: Path) -> Timeline:
    return Timeline(tmp_path / "timeline")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def blob_names(timeline: Timeline) -> set[str]:
    return {p.name for p in timeline.blobs.iterdir()}


# the store -----------------------------------------------------------------------------------
def test_a_snapshot_names_each_file_by_the_sha256_of_its_content_stored_once(
    timeline: Timeline,
) -> None:
    files = {"train.py": b"print(1)\n", "copy.py": b"print(1)\n", "data/notes.md": b"# n\n"}
    taken = timeline.snapshot(stream(files), at(0), cap_bytes=CAP)
    assert (taken.outcome, taken.files, taken.new_blobs) == (Outcome.taken, 3, 2)
    (snapshot,) = timeline.snapshots()
    assert snapshot.at == at(0)
    assert snapshot.files == {path: sha(content) for path, content in files.items()}
    assert blob_names(timeline) == {sha(b"print(1)\n"), sha(b"# n\n")}
    assert (timeline.blobs / sha(b"# n\n")).read_bytes() == b"# n\n"
    assert taken.total_bytes == timeline.size()


def test_an_unchanged_file_costs_no_new_blob_and_an_unchanged_workspace_no_snapshot(
    timeline: Timeline,
) -> None:
    timeline.snapshot(stream({"a.py": b"a\n", "b.py": b"b\n"}), at(0), cap_bytes=CAP)
    same = timeline.snapshot(stream({"a.py": b"a\n", "b.py": b"b\n"}), at(1), cap_bytes=CAP)
    assert (same.outcome, same.new_bytes) == (Outcome.unchanged, 0)
    changed = timeline.snapshot(stream({"a.py": b"a\n", "b.py": b"B\n"}), at(2), cap_bytes=CAP)
    assert (changed.outcome, changed.new_blobs) == (Outcome.taken, 1)
    assert [s.at for s in timeline.snapshots()] == [at(0), at(2)]
    assert len(blob_names(timeline)) == 3


def test_caches_and_git_are_left_out_and_only_regular_files_count(timeline: Timeline) -> None:
    files = {
        "model.py": b"x = 1\n",
        "__pycache__/model.cpython-311.pyc": b"\x00",
        ".ipynb_checkpoints/nb-checkpoint.ipynb": b"{}",
        ".git/objects/ab/cdef": b"\x01",
        "pkg/__pycache__/m.pyc": b"\x02",
        "empty/": b"",
    }
    timeline.snapshot(stream(files), at(0), cap_bytes=CAP)
    assert list(timeline.snapshots()[0].files) == ["model.py"]


def test_a_file_over_the_size_limit_is_recorded_by_hash_and_size_only(timeline: Timeline) -> None:
    big = b"x" * (LARGE_BYTES + 1)
    timeline.snapshot(stream({"data.csv": big, "a.py": b"a\n"}), at(0), cap_bytes=CAP)
    (snapshot,) = timeline.snapshots()
    assert snapshot.files["data.csv"] == sha(big)
    assert snapshot.large == {"data.csv": LARGE_BYTES + 1}
    assert blob_names(timeline) == {sha(b"a\n")}
    (created, _) = sorted(timeline.changes(), key=lambda c: c.path, reverse=True)
    assert (created.path, created.added, created.removed, created.size) == (
        "data.csv",
        None,
        None,
        LARGE_BYTES + 1,
    )


# the cap -------------------------------------------------------------------------------------
def test_a_snapshot_that_would_pass_the_cap_keeps_nothing_and_stops_the_timeline(
    timeline: Timeline,
) -> None:
    first = timeline.snapshot(stream({"a.txt": b"a" * 1000}), at(0), cap_bytes=3000)
    assert first.outcome is Outcome.taken
    before = (timeline.size(), blob_names(timeline))
    over = timeline.snapshot(stream({"a.txt": b"b" * 2500}), at(1), cap_bytes=3000)
    assert (over.outcome, over.total_bytes) == (Outcome.capped, before[0])
    assert (timeline.size(), blob_names(timeline)) == before
    small = timeline.snapshot(stream({"a.txt": b"c"}), at(2), cap_bytes=3000)
    assert small.outcome is Outcome.stopped  # nothing after the cap, even what would fit
    assert len(timeline.snapshots()) == 1


def test_the_cap_counts_the_snapshot_line_too(timeline: Timeline) -> None:
    taken = timeline.snapshot(stream({"a.txt": b"a"}), at(0), cap_bytes=10)
    assert taken.outcome is Outcome.capped
    assert timeline.snapshots() == []


# sealing -------------------------------------------------------------------------------------
def test_a_sealed_timeline_takes_no_snapshot_and_its_seal_checksums_the_index(
    timeline: Timeline,
) -> None:
    timeline.snapshot(stream({"a.py": b"a\n"}), at(0), cap_bytes=CAP)
    timeline.snapshot(stream({"a.py": b"b\n"}), at(1), cap_bytes=CAP)
    seal = timeline.seal()
    assert (seal.snapshots, seal.blobs, seal.bytes) == (2, 2, timeline.size())
    assert seal.sha256 == sha(timeline.index.read_bytes())
    late = timeline.snapshot(stream({"a.py": b"c\n"}), at(2), cap_bytes=CAP)
    assert late.outcome is Outcome.stopped
    assert timeline.seal() == seal


def test_an_empty_timeline_seals_with_nothing_in_it(timeline: Timeline) -> None:
    seal = timeline.seal()
    assert (seal.snapshots, seal.blobs, seal.bytes) == (0, 0, 0)
    assert timeline.changes() == []


# changes and diffs ---------------------------------------------------------------------------
def three_steps(timeline: Timeline) -> None:
    timeline.snapshot(stream({"train.py": b"a\nb\nc\n", "old.md": b"x\n"}), at(0), cap_bytes=CAP)
    timeline.snapshot(stream({"train.py": b"a\nB\nc\nd\n", "old.md": b"x\n"}), at(1), cap_bytes=CAP)
    timeline.snapshot(stream({"train.py": b"a\nB\nc\nd\n", "new.md": b"y\n"}), at(2), cap_bytes=CAP)


def test_the_changes_over_time_name_each_file_its_kind_lines_and_when(timeline: Timeline) -> None:
    three_steps(timeline)
    assert timeline.changes() == [
        Change(0, at(0), "old.md", "created", 1, 0, 2),
        Change(0, at(0), "train.py", "created", 3, 0, 6),
        Change(1, at(1), "train.py", "changed", 2, 1, 8),
        Change(2, at(2), "new.md", "created", 1, 0, 2),
        Change(2, at(2), "old.md", "deleted", 0, 1, 0),
    ]


def test_a_steps_diff_is_the_unified_diff_of_each_file_changed(timeline: Timeline) -> None:
    three_steps(timeline)
    (changed,) = timeline.diff(1)
    assert changed.change.path == "train.py"
    assert changed.lines == [
        "--- a/train.py",
        "+++ b/train.py",
        "@@ -1,3 +1,4 @@",
        " a",
        "-b",
        "+B",
        " c",
        "+d",
    ]


def test_a_step_that_is_not_there_is_refused_naming_the_steps_there_are(
    timeline: Timeline,
) -> None:
    three_steps(timeline)
    with pytest.raises(ProdprovenError, match="no step 3: it has 3 snapshots"):
        timeline.diff(3)


def test_a_binary_file_changes_without_line_counts(timeline: Timeline) -> None:
    timeline.snapshot(stream({"m.bin": b"\xff\x00"}), at(0), cap_bytes=CAP)
    timeline.snapshot(stream({"m.bin": b"\xff\x01\x02"}), at(1), cap_bytes=CAP)
    (diff,) = timeline.diff(1)
    assert (diff.change.added, diff.change.removed, diff.change.size, diff.lines) == (
        None,
        None,
        3,
        [],
    )


def notebook(*sources: str, outputs: int = 0) -> bytes:
    cells = [
        {"cell_type": "code", "source": s, "outputs": [{"text": "o"}] * outputs} for s in sources
    ]
    return json.dumps({"cells": cells, "nbformat": 4}).encode()


def test_a_notebook_is_compared_by_its_cells_sources_not_its_outputs(timeline: Timeline) -> None:
    timeline.snapshot(stream({"nb.ipynb": notebook("x = 1")}), at(0), cap_bytes=CAP)
    timeline.snapshot(stream({"nb.ipynb": notebook("x = 1", outputs=3)}), at(1), cap_bytes=CAP)
    timeline.snapshot(stream({"nb.ipynb": notebook("x = 2", "y")}), at(2), cap_bytes=CAP)
    changes = timeline.changes()
    assert [(c.step, c.added, c.removed) for c in changes] == [(0, 2, 0), (1, 0, 0), (2, 3, 1)]
    assert "+y" in timeline.diff(2)[0].lines
