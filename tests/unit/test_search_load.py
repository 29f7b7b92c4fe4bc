"""The search-load grader: a schedule that never repeats a search, updates and spot checks mixed
in, the load grader's scoring times a spot-check factor, and the slo condition that needs
both."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.base import GraderError, GradeResult
from prodproven.graders.load import Sample, score_load
from prodproven.graders.search_load import (
    Scheduled,
    SearchBody,
    SearchLoadGrader,
    SearchLoadParams,
    SpotCheck,
    UpdateBody,
    build_schedule,
    check_spots,
    kinds,
    payload,
    score_search_load,
    search_slo_held,
)
from tests.unit.evaluationsupport import FakeEnv

START = 1_000_000.0
SLO = {"slo": {"p95_ms": 100, "max_error_rate": 0.01}}
PARAMS = SearchLoadParams.model_validate(
    {**SLO, "rate": 10, "warmup_s": 2, "windows": 3, "window_s": 5}
)


def searches(count: int) -> list[SearchBody]:
    return [SearchBody(query=f"query {i}") for i in range(count)]


def updates(count: int) -> list[UpdateBody]:
    return [UpdateBody(documents=[{"id": f"n{i}", "title": "t", "text": "x"}])
            for i in range(count)]  # fmt: skip


def spots(count: int) -> list[SpotCheck]:
    return [SpotCheck(body=SearchBody(query=f"title {i}"), expect=f"d{i}") for i in range(count)]


def schedule(count: int = 40) -> list[Scheduled]:
    return build_schedule(searches(count), updates(count), spots(count), count=count,
                          update_every=20, spot_every=10)  # fmt: skip


# the schedule -----------------------------------------------------------------------------


def test_every_20th_request_is_an_update_and_every_other_10th_a_spot_check() -> None:
    order = kinds(40, update_every=20, spot_every=10)
    assert [n + 1 for n, kind in enumerate(order) if kind == "update"] == [20, 40]
    assert [n + 1 for n, kind in enumerate(order) if kind == "spot"] == [10, 30]
    assert order.count("search") == 36


def test_each_hidden_body_is_used_once_in_order() -> None:
    planned = schedule()
    queries = [s.body["query"] for s in planned if s.kind == "search"]
    assert queries == [f"query {i}" for i in range(36)]
    assert [s.expect for s in planned if s.kind == "spot"] == ["d0", "d1"]
    assert planned[19].body == {"documents": [{"id": "n0", "title": "t", "text": "x"}]}


def test_too_few_searches_for_the_rate_and_duration_is_a_grader_error() -> None:
    with pytest.raises(GraderError, match="needs 36 search bodies; the hidden file has 35"):
        build_schedule(searches(35), updates(9), spots(9), count=40, update_every=20,
                       spot_every=10)  # fmt: skip


def test_a_repeated_query_is_refused_so_a_cache_can_never_help() -> None:
    repeated = [*searches(40), SearchBody(query="  Query 3 ")]
    with pytest.raises(GraderError, match="repeat a query"):
        build_schedule(repeated, updates(9), spots(9), count=40, update_every=20,
                       spot_every=10)  # fmt: skip


def test_payloads_route_updates_to_documents_and_record_only_spot_checks() -> None:
    routed = [payload(s, PARAMS) for s in schedule()]
    assert routed[0] == {"path": "/search", "body": {"query": "query 0", "k": 10},
                         "key": "results", "record": False}  # fmt: skip
    assert routed[9]["record"] and routed[9]["path"] == "/search"
    assert routed[19]["path"] == "/documents" and routed[19]["key"] is None


# spot checks and the score ----------------------------------------------------------------


def recorded(index: int, ids: list[str], status: int = 200) -> dict[str, Any]:
    return {"index": index, "status": status, "answer": {"results": [{"id": i} for i in ids]}}


def test_a_spot_check_is_right_when_its_id_is_in_the_top_k() -> None:
    rows = [recorded(9, ["x", "d0"]), recorded(29, ["x"]), recorded(0, ["ignored"])]
    checked = check_spots(rows, schedule(), k=10)
    assert [c["right"] for c in checked] == [True, False]
    assert check_spots([recorded(9, ["x", "d0"])], schedule(), k=1)[0]["right"] is False
    assert check_spots([recorded(9, ["d0"], status=503)], schedule(), k=10)[0]["right"] is False


def fast_load() -> GradeResult:
    samples = [Sample(START + i / 10, 20.0, "") for i in range(170)]
    return score_load(samples, START, PARAMS)


def spot_results(right: int, total: int) -> list[dict[str, Any]]:
    return [{"query": f"t{i}", "expect": "d", "right": i < right, "got": []} for i in range(total)]


def test_all_spot_checks_right_keeps_the_load_score() -> None:
    result = score_search_load(fast_load(), spot_results(20, 20), {"search": 1}, PARAMS)
    assert result.score == 1.0 and result.passed
    assert result.evidence["spot_checks"]["share"] == 1.0
    assert "series" in result.evidence and result.evidence["p95_ms"] == 20.0  # the load plot's


@pytest.mark.parametrize(("right", "factor"), [(19, 1.0), (15, 0.5556), (10, 0.0)])
def test_the_spot_factor_ramps_from_half_right_to_the_pass_share(right: int, factor: float) -> None:
    result = score_search_load(fast_load(), spot_results(right, 20), {}, PARAMS)
    assert result.score == pytest.approx(factor, abs=1e-4)
    assert result.evidence["score_parts"]["spot"] == pytest.approx(factor, abs=1e-4)


def test_the_slo_condition_needs_the_spot_checks_too() -> None:
    good = score_search_load(fast_load(), spot_results(20, 20), {}, PARAMS)
    assert search_slo_held(good, PARAMS).met
    wrong = score_search_load(fast_load(), spot_results(18, 20), {}, PARAMS)
    verdict = search_slo_held(wrong, PARAMS)
    assert not verdict.met and not wrong.passed
    assert verdict.detail.endswith("spot checks 18/20 right < 95%")


def test_no_spot_check_answered_is_a_failed_result() -> None:
    result = score_search_load(fast_load(), [], {}, PARAMS)
    assert result.error and not search_slo_held(result, PARAMS).met


# grade(), with a fake environment -----------------------------------------------------------


def hidden(count: int) -> dict[str, bytes]:
    def dump(items: Sequence[Any]) -> bytes:
        return json.dumps([i.model_dump() for i in items]).encode()

    return {"load/searches.json": dump(searches(count)), "load/updates.json": dump(updates(20)),
            "load/spot_checks.json": dump(spots(20))}  # fmt: skip


def locust(files: Mapping[str, bytes], cmd: Sequence[str]) -> dict[str, bytes]:
    """A service answering every request in 20 ms, every spot check right."""
    sent = json.loads(files["in/payloads.json"])[:170]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["start", "response_ms", "error"])
    writer.writerows([START + i / 10, 20.0, ""] for i in range(len(sent)))
    answers = [recorded(i, [f"d{(i + 1) // 20}"]) for i, p in enumerate(sent) if p["record"]]
    return {"samples.csv": out.getvalue().encode(),
            "meta.json": json.dumps({"start": START}).encode(),
            "answers.jsonl": "".join(json.dumps(a) + "\n" for a in answers).encode()}  # fmt: skip


def test_grading_sends_the_whole_schedule_routed_and_checks_the_spots(tmp_path: Path) -> None:
    env = FakeEnv(tmp_path, hidden=hidden(200), probe=locust)
    result = SearchLoadGrader().grade(env, PARAMS)  # type: ignore[arg-type]
    assert result.passed and result.evidence["spot_checks"]["right"] == 9
    assert result.evidence["sent"] == {"search": 153, "update": 8, "spot": 9}
    files, cmd = env.probes[0]
    assert json.loads(files["in/config.json"])["routed"] is True
    assert len(json.loads(files["in/payloads.json"])) == 204  # 10 req/s x 17 s x 1.2
    assert cmd[:3] == ["locust", "-f", "/grading/locustfile.py"]


def test_grading_refuses_a_searches_file_too_short_for_the_run(tmp_path: Path) -> None:
    env = FakeEnv(tmp_path, hidden=hidden(150), probe=locust)
    with pytest.raises(GraderError, match="search bodies"):
        SearchLoadGrader().grade(env, PARAMS)  # type: ignore[arg-type]
    assert not env.probes
