"""The SLO prober's host side: reading the canary file, judging answers against expectations,
and moving the prober's output lines into the store (a real SQLite store, a fake container)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from prodproven.graders.slo import Sample
from prodproven.runner.runs.prober import (
    RECENT,
    Canary,
    ProbeFeed,
    ProbeSetupError,
    container_spec,
    contains,
    load_canaries,
    to_sample,
)
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.incidents import ProbeSpec, SloSpec
from prodproven.sandbox.environment import NOBODY_USER, Sandbox

EVERYTHING = 10**7
RIGHT = {"answer": 42}
CANARIES = [
    Canary(body={"x": 1}, expect={"answer": 42}),
    Canary(body={"x": 2}, expect={"answer": 7}),
]


# load_canaries -----------------------------------------------------------------------------


def canary_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "canaries.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_canaries_are_read_one_per_line_skipping_blank_lines(tmp_path: Path) -> None:
    path = canary_file(
        tmp_path,
        '{"body": {"x": 1}, "expect": {"answer": 42}}',
        "",
        "   ",
        '{"body": [1, 2], "expect": {"label": "churn"}}',
    )
    assert load_canaries(path) == [
        Canary(body={"x": 1}, expect={"answer": 42}),
        Canary(body=[1, 2], expect={"label": "churn"}),
    ]


def test_a_canary_without_a_body_has_none_for_get_probes(tmp_path: Path) -> None:
    path = canary_file(tmp_path, '{"expect": {"status": "ok"}}')
    assert load_canaries(path) == [Canary(body=None, expect={"status": "ok"})]


def test_a_line_that_is_not_json_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = canary_file(tmp_path, '{"body": 1, "expect": {}}', "", "{body: 1}")
    with pytest.raises(ProbeSetupError, match=f"^{path}:3: not JSON"):
        load_canaries(path)


@pytest.mark.parametrize(
    "line", ['{"body": {"x": 1}}', '{"body": {}, "expect": [42]}', "[1, 2]", '"text"']
)
def test_a_line_without_an_expect_object_is_named_by_file_and_line(
    tmp_path: Path, line: str
) -> None:
    path = canary_file(tmp_path, '{"body": 1, "expect": {"a": 1}}', line)
    with pytest.raises(ProbeSetupError) as info:
        load_canaries(path)
    assert str(info.value) == f'{path}:2: expected {{"body": ..., "expect": {{...}}}}'


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_a_file_without_canaries_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "canaries.jsonl"
    path.write_text(text)
    with pytest.raises(ProbeSetupError, match="has no canaries"):
        load_canaries(path)


# contains ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer,expect",
    [
        ({"answer": 42, "extra": "ignored"}, {"answer": 42}),
        ({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": 1}}),
        ({"scores": [1, 2, 3]}, {"scores": [1, 2, 3]}),
        ([{"label": 1, "p": 0.9}], [{"label": 1}]),
        (1.0, 1),
        (1, 1.0),
        ("churn", "churn"),
        (None, None),
        (True, True),
        ({"anything": 1}, {}),
    ],
)
def test_an_answer_that_holds_everything_expected_matches(answer: object, expect: object) -> None:
    assert contains(answer, expect) is True


@pytest.mark.parametrize(
    "answer,expect",
    [
        ({"other": 42}, {"answer": 42}),
        ({"answer": 41}, {"answer": 42}),
        ({"a": {"b": 2}}, {"a": {"b": 1}}),
        ([42], {"answer": 42}),
        (None, {"answer": 42}),
        ([1, 2], [1, 2, 3]),
        ([1, 2, 3], [1, 2]),
        ([2, 1], [1, 2]),
        (1, True),
        (True, 1),
        (0, False),
        (False, 0),
        ("1", 1),
        (1, "1"),
        (None, 0),
    ],
)
def test_an_answer_missing_or_differing_from_the_expectation_does_not_match(
    answer: object, expect: object
) -> None:
    assert contains(answer, expect) is False


# container_spec ----------------------------------------------------------------------------


def test_the_prober_container_gets_the_request_bodies_but_never_the_expected_answers() -> None:
    probe = ProbeSpec(canaries="probe/canaries.jsonl", slo=SloSpec(latency_ms=200))
    canaries = [Canary(body={"feature": "f-1"}, expect={"label": "secret-label-123"})]
    spec = container_spec("prober:1", probe, 8000, canaries)
    assert spec.command is not None
    config = json.loads(spec.command[-1])
    assert config["bodies"] == [{"feature": "f-1"}]
    assert config["keys"] == ["label"]
    assert "secret-label-123" not in json.dumps(list(spec.command))
    assert spec.user == NOBODY_USER


# ProbeFeed ---------------------------------------------------------------------------------


class FakeProber:
    """A prober container whose output is ``lines``; records the ``tail`` of each read."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.tails: list[int] = []

    def logs(self, tail: int = 200) -> str:
        self.tails.append(tail)
        return "".join(line + "\n" for line in self.lines[-tail:])

    @property
    def sandbox(self) -> Sandbox:
        """This fake where the feed takes a container (the feed only reads its ``logs``)."""
        return cast(Sandbox, self)


def line(
    seq: int,
    *,
    canary: int = 0,
    status: int | None = 200,
    answer: Any = RIGHT,
    error: str | None = None,
    text: str | None = None,
    latency_ms: float = 12.5,
) -> str:
    """One line of prober output (by default a right answer to canary 0)."""
    return json.dumps(
        {
            "seq": seq,
            "t": seq / 1000,
            "canary": canary,
            "status": status,
            "latency_ms": latency_ms,
            "answer": answer,
            "error": error,
            "text": text,
        }
    )


@pytest.fixture
def run_id(store: Store, tmp_path: Path) -> str:
    run = store.create_run(
        challenge_id="slo-lab",
        challenge_version="1.0.0",
        challenge_path=str(tmp_path),
        candidate="ada",
        mode="scripted",
    )
    return run.id


def stored(store: Store, run_id: str) -> list[tuple[object, ...]]:
    return [(r.seq, r.t, r.status, r.latency_ms, r.correct, r.error) for r in store.samples(run_id)]


def seqs(store: Store, run_id: str) -> list[int]:
    return [r.seq for r in store.samples(run_id)]


def test_each_sample_line_becomes_a_stored_row(store: Store, run_id: str) -> None:
    prober = FakeProber(line(1000), line(2000, latency_ms=250.0))
    ProbeFeed(store, run_id, CANARIES).poll(prober.sandbox)
    assert stored(store, run_id) == [
        (1000, 1.0, 200, 12.5, True, None),
        (2000, 2.0, 200, 250.0, True, None),
    ]


def test_an_answer_is_judged_against_its_own_canary(store: Store, run_id: str) -> None:
    prober = FakeProber(
        line(1000, canary=1, answer={"answer": 42}),
        line(2000, canary=1, answer={"answer": 7, "p": 0.3}),
        line(3000, canary=0, answer={"answer": 7}),
    )
    ProbeFeed(store, run_id, CANARIES).poll(prober.sandbox)
    assert [r.correct for r in store.samples(run_id)] == [False, True, False]


def test_an_answer_that_is_not_json_is_wrong(store: Store, run_id: str) -> None:
    prober = FakeProber(line(1000, answer=None, text="<html>ok</html>"))
    ProbeFeed(store, run_id, CANARIES).poll(prober.sandbox)
    assert [(r.correct, r.error) for r in store.samples(run_id)] == [(False, None)]


def test_an_error_status_is_not_judged_and_keeps_the_response_text(
    store: Store, run_id: str
) -> None:
    prober = FakeProber(line(1000, status=500, answer=None, text="Internal Server Error"))
    ProbeFeed(store, run_id, CANARIES).poll(prober.sandbox)
    assert stored(store, run_id) == [(1000, 1.0, 500, 12.5, None, "Internal Server Error")]


def test_a_request_without_an_answer_keeps_its_error(store: Store, run_id: str) -> None:
    refused = "URLError: <urlopen error [Errno 111] Connection refused>"
    prober = FakeProber(line(1000, status=None, answer=None, error=refused, text=""))
    ProbeFeed(store, run_id, CANARIES).poll(prober.sandbox)
    assert stored(store, run_id) == [(1000, 1.0, None, 12.5, None, refused)]


def test_lines_that_are_not_samples_are_skipped(store: Store, run_id: str) -> None:
    prober = FakeProber(
        "Traceback (most recent call last):",
        line(1000),
        "{not json",
        '{"seq": 1500}',
        "[1, 2, 3]",
        "null",
        line(1700, canary=5),
        json.dumps({**json.loads(line(1800)), "seq": "soon"}),
        line(2000),
    )
    ProbeFeed(store, run_id, CANARIES).poll(prober.sandbox)
    assert seqs(store, run_id) == [1000, 2000]


def test_the_first_poll_reads_the_whole_output_and_later_polls_only_the_recent_lines(
    store: Store, run_id: str
) -> None:
    prober = FakeProber(line(1000))
    feed = ProbeFeed(store, run_id, CANARIES)
    feed.poll(prober.sandbox)
    prober.lines.append(line(2000))
    feed.poll(prober.sandbox)
    assert prober.tails == [EVERYTHING, RECENT]


def test_a_later_poll_stores_only_the_new_lines(store: Store, run_id: str) -> None:
    prober = FakeProber(line(1000), line(2000))
    feed = ProbeFeed(store, run_id, CANARIES)
    feed.poll(prober.sandbox)
    prober.lines.append(line(3000))
    feed.poll(prober.sandbox)
    feed.poll(prober.sandbox)
    assert seqs(store, run_id) == [1000, 2000, 3000]


def test_a_poll_returns_how_many_samples_were_new(store: Store, run_id: str) -> None:
    prober = FakeProber(line(1000), line(2000))
    feed = ProbeFeed(store, run_id, CANARIES)
    first = feed.poll(prober.sandbox)
    prober.lines.append(line(3000))
    assert (first, feed.poll(prober.sandbox), feed.poll(prober.sandbox)) == (2, 1, 0)


def test_a_new_feed_skips_the_samples_already_stored(store: Store, run_id: str) -> None:
    prober = FakeProber(line(1000), line(2000))
    ProbeFeed(store, run_id, CANARIES).poll(prober.sandbox)
    prober.lines += [line(3000), line(4000)]
    restarted = FakeProber(*prober.lines)
    ProbeFeed(store, run_id, CANARIES).poll(restarted.sandbox)
    assert restarted.tails == [EVERYTHING]
    assert seqs(store, run_id) == [1000, 2000, 3000, 4000]


def test_a_feed_that_fell_behind_rereads_the_whole_output(store: Store, run_id: str) -> None:
    prober = FakeProber(line(1000))
    feed = ProbeFeed(store, run_id, CANARIES)
    feed.poll(prober.sandbox)
    prober.lines += [line(1000 * n) for n in range(2, RECENT + 102)]  # 400 more lines
    feed.poll(prober.sandbox)
    assert prober.tails == [EVERYTHING, RECENT, EVERYTHING]
    assert seqs(store, run_id) == [1000 * n for n in range(1, RECENT + 102)]


def test_a_feed_that_has_seen_nothing_yet_still_notices_it_fell_behind(
    store: Store, run_id: str
) -> None:
    prober = FakeProber()
    feed = ProbeFeed(store, run_id, CANARIES)
    feed.poll(prober.sandbox)  # the prober has not printed anything yet
    prober.lines += [line(1000 * n) for n in range(1, RECENT + 101)]  # 400 lines
    feed.poll(prober.sandbox)
    assert seqs(store, run_id) == [1000 * n for n in range(1, RECENT + 101)]


def test_a_poll_may_ask_for_the_whole_output(store: Store, run_id: str) -> None:
    prober = FakeProber(line(1000))
    feed = ProbeFeed(store, run_id, CANARIES)
    feed.poll(prober.sandbox)
    prober.lines.insert(0, line(500))  # older than anything stored: only a full read sees it
    feed.poll(prober.sandbox, everything=True)
    assert prober.tails == [EVERYTHING, EVERYTHING]
    assert seqs(store, run_id) == [500, 1000]


def test_a_stored_row_becomes_a_sample(store: Store, run_id: str) -> None:
    prober = FakeProber(line(1500, status=503, answer=None, text="busy", latency_ms=3.25))
    ProbeFeed(store, run_id, CANARIES).poll(prober.sandbox)
    (row,) = store.samples(run_id)
    assert to_sample(row) == Sample(t=1.5, status=503, latency_ms=3.25, correct=None, error="busy")
