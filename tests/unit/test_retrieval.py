"""The relevance grader: recall@k and MRR@k computed on the host from the ids a probe got, scored
from the lexical baseline (0) to the target (1), and the search probe itself, run against a
stub service."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.base import GraderError, GradeResult
from prodproven.graders.retrieval import (
    LabelledQuery,
    RelevanceCurve,
    RelevanceGrader,
    RelevanceParams,
    SearchAnswer,
    at_least_baseline,
    mrr_at_k,
    recall_at_k,
    result_ids,
    score_relevance,
)
from tests.unit.evaluationsupport import FakeEnv
from tests.unit.searchsupport import StubSearch, run_probe_script, serving

PARAMS = RelevanceParams()
CURVE = RelevanceCurve(
    baseline={"recall_at_10": 0.5, "mrr_at_10": 0.4},
    target={"recall_at_10": 0.9, "mrr_at_10": 0.8},
    how={"baseline": "bm25", "target": "hybrid"},
)


def labelled(count: int) -> list[LabelledQuery]:
    return [LabelledQuery(query=f"q{i}", relevant=[f"d{i}"]) for i in range(count)]


def answer(ids: list[str] | None, status: int | None = 200) -> SearchAnswer:
    return SearchAnswer(ids=ids, status=status, latency_ms=5.0, error="" if ids else "HTTP 500")


def answers_with(first: int, second: int, total: int = 10) -> list[SearchAnswer]:
    """``first`` queries answered with the relevant id first, ``second`` with it second, the
    rest without it."""
    rows = []
    for i in range(total):
        ids = [f"d{i}", "x"] if i < first else ["x", f"d{i}"] if i < first + second else ["x"]
        rows.append(answer(ids))
    return rows


# the metrics ------------------------------------------------------------------------------


def test_recall_is_the_share_of_relevant_ids_in_the_top_k() -> None:
    assert recall_at_k(["a", "b", "c"], {"a", "c", "z"}, 10) == pytest.approx(2 / 3)
    assert recall_at_k(["x", "a"], ["a"], 1) == 0.0  # a is 2nd, outside the top 1


def test_repeating_a_relevant_id_does_not_raise_recall() -> None:
    assert recall_at_k(["a", "a", "a"], ["a", "b"], 10) == 0.5


def test_mrr_is_one_over_the_rank_of_the_first_relevant_id() -> None:
    assert mrr_at_k(["a", "b"], ["a"], 10) == 1.0
    assert mrr_at_k(["x", "y", "b", "a"], ["a", "b"], 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], ["a"], 2) == 0.0
    assert mrr_at_k([], ["a"], 10) == 0.0


def test_result_ids_reads_the_contract_and_refuses_anything_else() -> None:
    ok = {"results": [{"id": "a", "score": 2.0}, {"id": "b", "score": 1.0}, {"id": "c"}]}
    assert result_ids(ok, 2) == ["a", "b"]
    assert result_ids({"results": [{"id": 3}]}, 10) is None
    assert result_ids({"results": ["a"]}, 10) is None
    assert result_ids([{"id": "a"}], 10) is None
    assert result_ids({"results": []}, 10) == []


# the score --------------------------------------------------------------------------------


def test_a_system_at_the_baseline_scores_0_and_passes() -> None:
    # recall 5/10 = 0.5 (the baseline); MRR (3 + 2 * 0.5) / 10 = 0.4 (the baseline)
    result = score_relevance(labelled(10), answers_with(3, 2), CURVE, PARAMS)
    assert result.evidence["metrics"] == {"recall_at_10": 0.5, "mrr_at_10": 0.4}
    assert result.score == 0.0 and result.passed


def test_a_system_at_the_target_scores_1() -> None:
    # recall 0.9, MRR (8 + 0.5) / 10 = 0.85 over the target of 0.8
    result = score_relevance(labelled(10), answers_with(8, 1), CURVE, PARAMS)
    assert result.score == 1.0 and result.passed


def test_the_score_is_the_mean_of_both_ramps_from_baseline_to_target() -> None:
    # recall 0.7 (half way: 0.5), MRR (6 + 0.5) / 10 = 0.65 (0.625 of the way)
    result = score_relevance(labelled(10), answers_with(6, 1), CURVE, PARAMS)
    assert result.evidence["score_parts"] == {"recall_at_10": 0.5, "mrr_at_10": 0.625}
    assert result.score == pytest.approx(0.5625)


def test_a_metric_under_the_baseline_by_more_than_the_margin_fails() -> None:
    # recall 0.4 (< 0.5 - 0.02), MRR 0.4
    result = score_relevance(labelled(10), answers_with(4, 0), CURVE, PARAMS)
    assert not result.passed and result.score == 0.0
    verdict = at_least_baseline(result, PARAMS)
    assert not verdict.met
    assert verdict.detail.startswith("recall_at_10 0.400 < 0.480 (baseline 0.500 - 0.02)")


def test_the_margin_lets_a_system_just_under_the_baseline_pass() -> None:
    result = score_relevance(labelled(10), answers_with(4, 0), CURVE, PARAMS)
    wide = RelevanceParams(baseline_margin=0.1)
    assert score_relevance(labelled(10), answers_with(4, 0), CURVE, wide).passed
    assert at_least_baseline(result, wide).met


def test_a_threshold_within_the_queries_noise_is_borderline() -> None:
    result = score_relevance(labelled(10), answers_with(3, 2), CURVE, PARAMS)
    verdict = at_least_baseline(result, PARAMS)
    assert verdict.met and verdict.borderline


def test_failed_requests_score_0_and_are_shown() -> None:
    rows = answers_with(10, 0)
    rows[0] = answer(None, 500)
    result = score_relevance(labelled(10), rows, CURVE, PARAMS)
    assert result.evidence["metrics"]["recall_at_10"] == 0.9
    assert result.evidence["failed_requests"] == 1
    assert result.evidence["failures"] == [{"query": "q0", "status": 500, "error": "HTTP 500"}]


def test_misses_are_sampled_with_what_the_system_returned() -> None:
    result = score_relevance(labelled(10), answers_with(9, 0), CURVE, PARAMS)
    assert result.evidence["misses"] == 1
    assert result.evidence["miss_sample"] == [{"query": "q9", "relevant": ["d9"], "got": ["x"]}]


def test_the_score_has_a_bootstrap_standard_error_that_is_repeatable() -> None:
    first = score_relevance(labelled(10), answers_with(6, 1), CURVE, PARAMS)
    again = score_relevance(labelled(10), answers_with(6, 1), CURVE, PARAMS)
    assert first.sem is not None and 0 < first.sem < 0.5 and first.sem == again.sem
    perfect = score_relevance(labelled(10), answers_with(10, 0), CURVE, PARAMS)
    assert perfect.sem == 0.0


def test_a_curve_without_the_metrics_at_k_is_a_grader_error() -> None:
    with pytest.raises(GraderError, match="recall_at_5"):
        score_relevance(labelled(10), answers_with(6, 1), CURVE, RelevanceParams(k=5))


def test_a_target_not_above_the_baseline_is_a_grader_error() -> None:
    flat = CURVE.model_copy(update={"target": {"recall_at_10": 0.5, "mrr_at_10": 0.8}})
    with pytest.raises(GraderError, match="not above"):
        score_relevance(labelled(10), answers_with(6, 1), flat, PARAMS)


def test_a_failed_measurement_meets_no_condition() -> None:
    assert not at_least_baseline(GradeResult.failed("service down"), PARAMS).met


# grade(), with a fake environment -----------------------------------------------------------


def env_for(tmp_path: Path) -> FakeEnv:
    queries = [{"query": f"q{i}", "relevant": [f"d{i}"]} for i in range(10)]

    def service(files: Mapping[str, bytes], cmd: Sequence[str]) -> dict[str, bytes]:
        asked = json.loads(files["in/queries.json"])
        rows = [{"ids": [q.replace("q", "d")], "status": 200, "latency_ms": 3.0} for q in asked]
        return {"answers.json": json.dumps({"answers": rows}).encode()}

    hidden = {
        "relevance/queries.json": json.dumps(queries).encode(),
        "relevance/curve.json": CURVE.model_dump_json().encode(),
    }
    return FakeEnv(tmp_path, hidden=hidden, probe=service)


def test_grading_sends_only_the_query_strings_into_the_pod(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    result = RelevanceGrader().grade(env, PARAMS)  # type: ignore[arg-type]
    assert result.score == 1.0 and result.passed
    files, cmd = env.probes[0]
    assert json.loads(files["in/queries.json"]) == [f"q{i}" for i in range(10)]
    assert not any(b"d3" in data for name, data in files.items() if name.startswith("in/"))
    assert cmd == ["python", "/grading/search_client.py", "/grading"]
    assert json.loads(files["in/config.json"])["k"] == 10


def test_an_unreadable_hidden_file_is_a_grader_error_naming_it(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    env.hidden["relevance/queries.json"] = b'[{"query": "q", "relevant": []}]'
    with pytest.raises(GraderError, match="relevance/queries.json"):
        RelevanceGrader().grade(env, PARAMS)  # type: ignore[arg-type]


# the probe, against a stub service -------------------------------------------------------


def test_the_probe_records_ids_status_and_errors_per_query(tmp_path: Path) -> None:
    stub = StubSearch({"d1": "red apple pie", "d2": "green apple", "d3": "blue sky"})
    with serving(stub) as port:
        config = {"port": port, "endpoint": "/search", "k": 2, "timeout": 5, "threads": 2}
        queries = ["apple pie", "crash", "garbled", "nothing here"]
        out = run_probe_script(tmp_path, "search_client.py", {"config": config,
                                                                "queries": queries})  # fmt: skip
    rows: list[dict[str, Any]] = out["answers"]
    assert [r["ids"] for r in rows] == [["d1", "d2"], None, None, []]
    assert [r["status"] for r in rows] == [200, 500, 200, 200]
    assert rows[1]["error"].startswith("HTTP 500") and "not JSON" in rows[2]["error"]
    assert all(r["latency_ms"] > 0 for r in rows)
    assert all(SearchAnswer.model_validate(r) for r in rows)  # what the host reads back
