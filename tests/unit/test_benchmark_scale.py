"""The scale benchmark's figures (benchmarks/scale.py, its warm starts in benchmarks/warm.py),
from numbers instead of a machine: container memory as `docker stats` shows it, how many runs
fit, throughput, the warm-start goal, the tables."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmarks import warm
from benchmarks.scale import (
    GIB,
    MIB,
    Graded,
    Idle,
    builtin_challenges,
    container_cpu_seconds,
    container_memory,
    fits,
    graded_table,
    idle_table,
    runs_per_hour,
    slot_wait_s,
    table,
)


def test_container_memory_leaves_out_inactive_file_pages_on_cgroup_v2_and_v1() -> None:
    v2 = {"memory_stats": {"usage": 100 * MIB, "stats": {"inactive_file": 30 * MIB}}}
    v1 = {"memory_stats": {"usage": 100 * MIB, "stats": {"total_inactive_file": 10 * MIB}}}
    assert container_memory(v2) == 70 * MIB
    assert container_memory(v1) == 90 * MIB


def test_container_memory_of_a_stopped_container_is_zero() -> None:
    assert container_memory({"memory_stats": {}}) == 0
    assert container_memory({}) == 0


def test_container_cpu_is_read_in_seconds() -> None:
    assert (
        container_cpu_seconds({"cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}}}) == 2.5
    )


def test_fits_counts_whole_runs_in_what_the_reserve_leaves() -> None:
    assert fits(800 * MIB, 24 * GIB, 4 * GIB) == 25  # 20 GiB / 0.78 GiB = 25.6
    assert fits(1 * GIB, 24 * GIB, 4 * GIB) == 20
    assert fits(1 * GIB, 2 * GIB, 4 * GIB) == 0  # the reserve is more than the machine


def test_fits_refuses_a_run_that_uses_nothing() -> None:
    with pytest.raises(ValueError, match="some memory"):
        fits(0, 24 * GIB, 0)


def test_an_idle_run_carries_its_share_of_the_one_supervisor_when_the_machine_is_full() -> None:
    idle = Idle("deploy-model", [5.0], [], {"pod": 4.0, "workspace": 70.0}, 0.1, 90.0, 1.0, fits=10)
    assert idle.total_mib == 83.0


def test_runs_per_hour_is_runs_over_wall_time() -> None:
    assert runs_per_hour(1, 120.0) == 30.0
    assert runs_per_hour(2, 180.0) == 40.0


def test_a_table_aligns_text_left_and_numbers_right_with_one_decimal() -> None:
    text = table(("challenge", "MiB"), [("deploy-model", 74.25), ("fix-drift", 512.0)])
    assert text.splitlines() == [
        "challenge       MiB",
        "------------  -----",
        "deploy-model   74.2",
        "fix-drift     512.0",
    ]


def test_the_builtin_challenges_are_the_packages_with_a_challenge_file() -> None:
    names = builtin_challenges()
    assert "deploy-model" in names and "fix-drift" in names
    assert "__pycache__" not in names


def test_a_gradings_slot_wait_is_read_from_its_timing_slot_event() -> None:
    events = [
        SimpleNamespace(kind="grading.started", data={}),
        SimpleNamespace(kind="grading.timing_slot", data={"slot": 0, "waited_s": 41.5}),
    ]
    assert slot_wait_s(events) == 41.5
    assert slot_wait_s(events[:1]) == 0.0  # a grading that times nothing waits for no slot


def test_the_graded_table_shows_the_slot_wait_and_how_many_slots_there_were() -> None:
    grades = [Graded("deploy-model", 2, [55.0, 110.0], [0.0, 54.0], 111.0, [100.0, 100.0])]
    lines = graded_table(grades, timed_gradings=1).splitlines()
    assert lines[0].startswith("graded runs (reference submissions; 1 timing slot,")
    assert "slot wait s/run" in lines[1]
    assert lines[3].split()[:5] == ["deploy-model", "2", "82.5", "27.0", "111.0"]


def _idle(name: str, cold: list[float], pooled: list[float]) -> Idle:
    return Idle(name, cold, pooled, {"workspace": 70.0}, 0.1, 90.0, 1.0, fits=10)


def test_the_warm_start_goal_is_met_when_the_median_pooled_start_is_at_most_3_seconds() -> None:
    assert warm.goal_met([2.0, 3.0, 9.0]) is True  # median 3.0: at the goal is met
    assert warm.goal_met([2.0, 3.1, 3.2]) is False
    assert warm.goal_met([]) is None  # not measured: no verdict


def test_the_idle_table_shows_the_pooled_median_and_the_goal_next_to_the_cold_start() -> None:
    idles = [
        _idle("deploy-model", [4.7, 4.5, 5.0], [1.2, 1.0, 4.0]),
        _idle("fix-drift", [20.0], [3.5, 3.4, 3.6]),
        _idle("capacity-plan", [6.0], []),
    ]
    lines = idle_table(idles, 24 * GIB, 4 * GIB).splitlines()
    assert lines[1].split()[:6] == ["challenge", "start", "s", "pooled", "s", "goal"]
    assert lines[3].split()[:4] == ["deploy-model", "4.7", "1.2", "yes"]
    assert lines[4].split()[:4] == ["fix-drift", "20.0", "3.5", "no"]
    assert lines[5].split()[:4] == ["capacity-plan", "6.0", "-", "-"]  # --no-pooled
    assert "warm pool of 1" in lines[-1]


def test_the_json_figures_give_both_medians_and_the_verdict_or_none_when_not_measured() -> None:
    assert warm.figures(_idle("deploy-model", [4.0, 5.0], [1.0, 2.0, 2.5])) == {
        "start_median_s": 4.5,
        "pooled_median_s": 2.0,
        "goal_s": 3.0,
        "goal_met": True,
    }
    assert warm.figures(_idle("fix-drift", [20.0], []))["goal_met"] is None
    assert warm.figures(_idle("fix-drift", [20.0], []))["pooled_median_s"] is None
