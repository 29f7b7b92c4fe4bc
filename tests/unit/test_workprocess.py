"""How a candidate worked, read back from planted recordings, timeline and events
(runner/runs/workprocess.py): the summary's active time and idle gaps, the commands rebuilt
from keystrokes, the moments and the markers they make in the recording, and each signal with
its evidence, with no signal for what stays inside the pod."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prodproven.runner.errors import RunNotFound
from prodproven.runner.runs import recording, workprocess
from prodproven.runner.runs.casts import CastEvent, Marker, RecordingView
from prodproven.runner.runs.workprocess import Recordings, commands
from tests.unit.workprocess_support import CAST, INCIDENT_S, SUBMIT_S, T0, at, events, plant


@pytest.fixture
def work(tmp_path: Path) -> workprocess.WorkProcess:
    plant(tmp_path)
    return workprocess.read(tmp_path, events(), T0)


def test_active_time_sums_the_gaps_under_five_minutes_and_longer_ones_are_idle(
    work: workprocess.WorkProcess,
) -> None:
    # activity from 0 s to the cell at 240 s, nothing until the snapshot at 30 min, then 2 min
    assert work.summary.active_s == 240 + 120
    [gap] = work.summary.idle
    assert (gap.start, gap.end) == (at(240), at(1800))


def test_the_summary_counts_commands_cells_and_the_files_touched_after_the_starter(
    work: workprocess.WorkProcess,
) -> None:
    assert [c.text for c in work.commands] == [
        "ls",
        "cat /grading/tests.py",
        "curl https://pastebin.com/raw/x",
        "curl http://mlflow:5000/health",
        "pip install requests",
        "tail -f log",
    ]
    assert (work.summary.commands, work.summary.cells) == (6, 1)
    assert work.summary.files == ["solution.py", "train.py"]
    [cell] = work.cells
    assert (cell.at, cell.status, cell.first_lines) == (at(240), "ok", "import os\nprint(1)")
    assert [r.name for r in work.recordings] == [CAST]


def test_moments_are_the_injection_the_first_command_after_it_and_the_submit(
    work: workprocess.WorkProcess,
) -> None:
    assert [(m.what, m.after_s, m.detail) for m in work.moments] == [
        ("incident injected", INCIDENT_S, "oom"),
        ("first command or cell after it", 200, "tail -f log"),
        ("submitted", SUBMIT_S, ""),
    ]
    assert [m.recording for m in work.moments] == ["", CAST, ""]


def test_the_moments_within_the_recording_are_its_markers(
    work: workprocess.WorkProcess,
) -> None:
    """The cast spans 0 to 200 s: the injection (180 s) and the command after it (200 s) are
    in it, the submit (33 min) is not. The player shortens each pause to 2 s: the 9 pauses
    up to 150 s play in 14 s, and the injection is 30 s into the 50 s pause after it."""
    assert work.recordings == [
        RecordingView(
            CAST,
            T0,
            200.0,
            [
                Marker(INCIDENT_S, 14 + 2 * 30 / 50, "incident injected"),
                Marker(200.0, 16.0, "first command or cell after it"),
            ],
        )
    ]


@pytest.mark.parametrize(
    "line",
    ["ls /grading", "cat /opt/hidden/answers.csv", "find / -name '*.csv'", "grep -r solution /opt"],
)
def test_looking_for_hidden_material_is_a_signal(line: str) -> None:
    [signal] = workprocess.line_signals([(T0, line)])
    assert (signal.kind, signal.evidence) == ("hidden material", line)


def test_signals_show_what_when_and_the_evidence_line(work: workprocess.WorkProcess) -> None:
    assert [(s.kind, s.at, s.evidence) for s in work.signals] == [
        ("large block", at(1800), "timeline step 1: solution.py +100 -0"),
        ("idle then solution", at(1800), "timeline step 1"),
        ("hidden material", at(120), "cat /grading/tests.py"),
        ("network", at(130), "curl https://pastebin.com/raw/x"),
        ("network", at(140), "pip install requests"),
    ]
    assert "26 min idle, then 100 of the 101 lines" in work.signals[1].what


def test_commands_that_stay_in_the_pod_are_no_signal(tmp_path: Path) -> None:
    typed = "python train.py\rcurl localhost:8000/health\rnc mlflow 5000\rpip install -e .\r"
    typed += "cat solution.py\rfind /workspace -name '*.py'\rpython -c 'hidden_size = 128'\r"
    (tmp_path / "recordings").mkdir()
    header = json.dumps({"version": 2, "timestamp": T0.timestamp()})
    cast = f"{header}\n{json.dumps([1.0, 'i', typed])}\n"
    (tmp_path / "recordings" / CAST).write_text(cast)
    work = workprocess.read(tmp_path, [], T0)
    assert [c.text for c in work.commands][:2] == ["python train.py", "curl localhost:8000/health"]
    assert work.summary.commands == 7
    assert work.signals == []


def test_typing_is_rebuilt_through_backspace_ctrl_c_and_arrow_keys() -> None:
    typed = [CastEvent(T0, "i", "lx\x7fs -l\x1b[A\r"), CastEvent(at(1), "i", "rm -rf /\x03pwd\r")]
    assert [(c.at, c.text) for c in commands(CAST, typed)] == [(T0, "ls -l"), (at(1), "pwd")]


def test_once_archived_the_recordings_are_read_from_the_archive(tmp_path: Path) -> None:
    plant(tmp_path)
    recording.archive(tmp_path)
    shutil.rmtree(tmp_path / "recordings")
    assert Recordings(tmp_path).names() == ["cells.jsonl", CAST]
    assert workprocess.read(tmp_path, events(), T0).summary.commands == 6
    with pytest.raises(RunNotFound, match="no recording 'secret.cast'"):
        Recordings(tmp_path).read("secret.cast")
