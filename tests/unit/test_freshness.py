"""The freshness grader: posted documents must be searchable within the bound and a replaced
document's old text must stop answering; the probe measures lags against a stub service whose
index lags on purpose, the host decides what was in time."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from prodproven.graders.base import GraderError
from prodproven.graders.freshness import (
    AddedOutcome,
    FreshnessGrader,
    FreshnessParams,
    FreshnessReport,
    ReplacedOutcome,
    miss_reason,
    score_freshness,
)
from tests.unit.evaluationsupport import FakeEnv
from tests.unit.searchsupport import StubSearch, run_probe_script, serving

PARAMS = FreshnessParams()


def added(lag: float | None, status: int | None = 200, name: str = "n1") -> AddedOutcome:
    return AddedOutcome(id=name, ack_status=status, lag_s=lag, error="" if status == 200 else "x")


def replaced(lag: float | None, gone: bool | None = True, name: str = "d1") -> ReplacedOutcome:
    return ReplacedOutcome(id=name, ack_status=200, lag_s=lag, old_before=True, old_gone=gone)


# what counts as in time -------------------------------------------------------------------


def test_a_document_found_within_the_bound_is_in_time() -> None:
    assert miss_reason(added(0.3), 5) is None
    assert miss_reason(added(5.0), 5) is None


def test_each_way_to_miss_is_named() -> None:
    assert miss_reason(added(6.2), 5) == "found after 6.20 s, over the 5 s bound"
    assert miss_reason(added(None), 5) == "never found"
    assert (miss_reason(added(None, status=422), 5) or "").startswith("POST refused (422)")
    assert miss_reason(replaced(0.5, gone=False), 5) == (
        "the old text still answers 5 s after the replacement"
    )
    assert miss_reason(replaced(0.5, gone=None), 5) is not None  # never asked: not shown gone


# the score --------------------------------------------------------------------------------


def test_everything_in_time_scores_1_and_passes() -> None:
    report = FreshnessReport(added=[added(0.2), added(1.0)], replaced=[replaced(0.4)])
    result = score_freshness(report, PARAMS)
    assert result.score == 1.0 and result.passed and result.sem == 0.0
    assert (result.evidence["lag_median_s"], result.evidence["lag_max_s"]) == (0.4, 1.0)


def test_the_score_is_the_mean_of_the_added_and_replaced_shares() -> None:
    report = FreshnessReport(
        added=[added(0.2), added(None), added(0.3), added(9.0)],
        replaced=[replaced(0.4), replaced(0.4, gone=False)],
    )
    result = score_freshness(report, PARAMS)
    assert (result.evidence["added_share"], result.evidence["replaced_share"]) == (0.5, 0.5)
    assert result.score == 0.5 and not result.passed
    assert [m["kind"] for m in result.evidence["misses"]] == ["added", "added", "replaced"]


def test_both_shares_must_reach_the_pass_share() -> None:
    ten_added = [added(0.1)] * 9 + [added(None)]
    report = FreshnessReport(added=ten_added, replaced=[replaced(0.1)])
    assert score_freshness(report, PARAMS).passed  # 90% and 100%
    assert not score_freshness(report, FreshnessParams(pass_share=0.95)).passed


def test_a_stale_index_scores_0() -> None:
    report = FreshnessReport(added=[added(None)], replaced=[replaced(None, gone=False)])
    result = score_freshness(report, PARAMS)
    assert result.score == 0.0 and not result.passed
    assert result.evidence["lag_median_s"] is None


# grade(), with a fake environment -----------------------------------------------------------

ADDED = [{"document": {"id": "n1", "title": "Zyloth kettle", "text": "a kettle"},
          "query": "zyloth kettle"}]  # fmt: skip
REPLACED = [{"document": {"id": "d1", "title": "Quorvex lamp", "text": "a lamp"},
             "old_query": "old mug", "new_query": "quorvex lamp"}]  # fmt: skip


def env_for(tmp_path: Path, report: dict[str, Any]) -> FakeEnv:
    def service(files: Mapping[str, bytes], cmd: Sequence[str]) -> dict[str, bytes]:
        return {"answers.json": json.dumps(report).encode()}

    hidden = {"freshness/added.json": json.dumps(ADDED).encode(),
              "freshness/replaced.json": json.dumps(REPLACED).encode()}  # fmt: skip
    return FakeEnv(tmp_path, hidden=hidden, probe=service)


def test_grading_hands_the_probe_the_documents_and_the_bound(tmp_path: Path) -> None:
    report = FreshnessReport(added=[added(0.5)], replaced=[replaced(0.5)]).model_dump()
    env = env_for(tmp_path, report)
    assert FreshnessGrader().grade(env, PARAMS).passed  # type: ignore[arg-type]
    files, cmd = env.probes[0]
    assert cmd == ["python", "/grading/freshness_probe.py", "/grading"]
    assert {"search_client.py", "freshness_probe.py"} <= set(files)
    assert json.loads(files["in/items.json"]) == {"added": ADDED, "replaced": REPLACED}
    assert json.loads(files["in/config.json"])["bound_s"] == 5


def test_a_probe_report_missing_documents_is_a_grader_error(tmp_path: Path) -> None:
    env = env_for(tmp_path, {"added": [], "replaced": []})
    with pytest.raises(GraderError, match="every document"):
        FreshnessGrader().grade(env, PARAMS)  # type: ignore[arg-type]


# the probe, against a stub service -------------------------------------------------------


def run_freshness_probe(tmp_path: Path, stub: StubSearch) -> dict[str, Any]:
    with serving(stub) as port:
        config = {"port": port, "search": "/search", "documents": "/documents", "k": 10,
                  "timeout": 5, "bound_s": 0.6, "grace_s": 0.4, "interval_s": 0.05}  # fmt: skip
        return run_probe_script(tmp_path, "freshness_probe.py", {"config": config,
                                "items": {"added": ADDED, "replaced": REPLACED}})  # fmt: skip


def test_the_probe_measures_the_lag_and_sees_the_old_text_gone(tmp_path: Path) -> None:
    out = run_freshness_probe(tmp_path, StubSearch({"d1": "old mug"}, delay_s=0.2))
    report = FreshnessReport.model_validate(out)
    new, swap = report.added[0], report.replaced[0]
    assert new.ack_status == 200 and new.lag_s is not None and 0.15 <= new.lag_s < 0.6
    assert swap.old_before and swap.old_gone and swap.lag_s is not None
    assert score_freshness(report, FreshnessParams(bound_s=0.6)).passed


def test_the_probe_reports_a_stale_index_as_never_found(tmp_path: Path) -> None:
    out = run_freshness_probe(tmp_path, StubSearch({"d1": "old mug"}, frozen=True))
    report = FreshnessReport.model_validate(out)
    assert report.added[0].lag_s is None and report.replaced[0].lag_s is None
    assert report.replaced[0].old_gone is False
    assert score_freshness(report, FreshnessParams(bound_s=0.6)).score == 0.0
