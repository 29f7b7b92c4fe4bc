"""Timing slots (runner/grading/slots.py): at most N holders at once, whether they are threads
of one process or processes; a killed holder's slot frees; a waiting taker says it waits."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from prodproven.runner.config import Settings
from prodproven.runner.errors import ConfigError
from prodproven.runner.grading.slots import FOLDER, Slot, TimingSlots

HOLD_IN_A_CHILD = """
import sys, time
from pathlib import Path
from prodproven.runner.grading.slots import TimingSlots
slot = TimingSlots(Path(sys.argv[1]), 1).try_take()
print("held" if slot is not None else "refused", flush=True)
time.sleep(60)
"""


def slots(tmp_path: Path, count: int = 1) -> TimingSlots:
    return TimingSlots(tmp_path / FOLDER, count, poll_s=0.02, report_every_s=0.1)


def taken_in_a_thread(
    timing: TimingSlots, said: list[str] | None = None
) -> tuple[threading.Thread, list[Slot]]:
    """A thread taking a slot (waiting if it must); the slot appears in the list once taken."""
    got: list[Slot] = []
    report = said.append if said is not None else (lambda _: None)
    thread = threading.Thread(target=lambda: got.append(timing.take(report)), daemon=True)
    thread.start()
    return thread, got


def test_a_second_thread_waits_until_the_holder_releases_the_slot(tmp_path: Path) -> None:
    timing = slots(tmp_path)
    held = timing.take(lambda _: None)
    thread, got = taken_in_a_thread(timing)
    thread.join(0.3)
    assert got == []
    held.release()
    thread.join(5)
    assert [slot.index for slot in got] == [0]
    assert got[0].waited_s >= 0.3
    got[0].release()


def test_a_slot_held_by_another_process_is_refused_until_that_process_is_killed(
    tmp_path: Path,
) -> None:
    timing = slots(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_IN_A_CHILD, str(timing.folder)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert timing.try_take() is None
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    slot = timing.try_take()  # the kernel released the dead holder's lock
    assert slot is not None
    slot.release()


def test_a_process_is_refused_a_slot_a_thread_of_this_process_holds(tmp_path: Path) -> None:
    timing = slots(tmp_path)
    held = timing.take(lambda _: None)
    child = subprocess.run(
        [sys.executable, "-c", HOLD_IN_A_CHILD.replace("time.sleep(60)", ""), str(timing.folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    held.release()
    assert child.stdout.strip() == "refused"


def test_two_slots_let_two_holders_in_and_keep_a_third_out(tmp_path: Path) -> None:
    timing = slots(tmp_path, count=2)
    first, second = timing.try_take(), timing.try_take()
    assert first is not None and second is not None
    assert {first.index, second.index} == {0, 1}
    assert timing.try_take() is None
    second.release()
    third = timing.try_take()
    assert third is not None and third.index == second.index
    first.release()
    third.release()


def test_a_waiting_taker_reports_that_it_waits_when_it_starts_and_every_few_seconds(
    tmp_path: Path,
) -> None:
    timing = slots(tmp_path)  # polls every 0.02 s, reports every 0.1 s
    held = timing.take(lambda _: None)
    said: list[tuple[float, str]] = []
    got: list[Slot] = []
    thread = threading.Thread(
        target=lambda: got.append(timing.take(lambda line: said.append((time.monotonic(), line))))
    )
    thread.start()
    deadline = time.monotonic() + 10
    while len(said) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    held.release()
    thread.join(5)
    got[0].release()
    assert said[0][1] == "waiting for a timing slot: 1 grading that times things is running (0 s)"
    assert all(
        later - earlier >= 0.1 for (earlier, _), (later, _) in zip(said[:2], said[1:3], strict=True)
    )


def test_the_report_counts_the_gradings_holding_every_slot(tmp_path: Path) -> None:
    timing = slots(tmp_path, count=2)
    held = [timing.take(lambda _: None) for _ in range(2)]
    said: list[str] = []
    thread, got = taken_in_a_thread(timing, said)
    time.sleep(0.05)
    held[0].release()
    thread.join(5)
    for slot in [held[1], *got]:
        slot.release()
    assert said[0].startswith("waiting for a timing slot: 2 gradings that time things are running")


def test_a_free_slot_is_taken_at_once_without_a_report(tmp_path: Path) -> None:
    said: list[str] = []
    slot = slots(tmp_path).take(said.append)
    assert said == [] and slot.held
    slot.release()


def test_releasing_twice_is_harmless_and_frees_the_slot_once(tmp_path: Path) -> None:
    timing = slots(tmp_path)
    slot = timing.take(lambda _: None)
    slot.release()
    slot.release()
    assert not slot.held
    again = timing.try_take()
    assert again is not None
    again.release()


def test_the_slots_of_a_data_directory_are_its_timed_gradings_setting(tmp_path: Path) -> None:
    settings = Settings.from_env({"PRODPROVEN_TIMED_GRADINGS": "3"}, data_dir=tmp_path)
    assert TimingSlots.of(settings) == TimingSlots(tmp_path / "grading-slots", 3)
    assert Settings.from_env({}, data_dir=tmp_path).timed_gradings == 1


def test_no_slots_at_all_is_refused_as_a_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PRODPROVEN_TIMED_GRADINGS"):
        Settings.from_env({"PRODPROVEN_TIMED_GRADINGS": "0"}, data_dir=tmp_path)
