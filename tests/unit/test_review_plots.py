"""The review, fixes and claims graders' figures, drawn from evidence the real graders produced
against a fake environment: what the review found by severity and which decoys it flagged,
what the fixes repaired beside the feature's tests, and each claim measured on both
branches."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from prodproven.runner import plugins
from prodproven.runner.grading.result import RunResult
from prodproven.runner.hookspecs import Figure
from prodproven.runner.present.plots import run_plots
from tests.unit import test_claims, test_fixes, test_review
from tests.unit.resultsupport import grader_entry, result_doc
from tests.unit.reviewsupport import CACHE, review_md

SVG = "{http://www.w3.org/2000/svg}"


def figures(kind: str, ev: dict[str, Any]) -> dict[str, Figure]:
    doc = result_doc(grader_entry(kind, evidence=ev))
    return {f.id: f for f in run_plots(RunResult.model_validate(doc), plugins.plots())}


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_the_review_figure_counts_defects_by_severity_and_the_flagged_decoy(
    tmp_path: Path,
) -> None:
    review = review_md([CACHE, test_review.DECOY, test_review.STRAY])
    ev = test_review.graded(tmp_path, review).evidence
    (found,) = figures("review", ev).values()
    assert {"blocker", "major", "minor", "decoys", "other findings"} <= set(texts(found.svg))
    assert found.caption.startswith(
        "found 1 of 3 seeded defects; 1 of 1 decoys flagged; 1 findings matched nothing"
    )


def test_the_fixes_figure_sets_the_defects_fixed_beside_the_feature_tests(
    tmp_path: Path,
) -> None:
    outcomes = test_fixes.passing(*test_fixes.ALL[:1])
    ev = test_fixes.graded(test_fixes.env_for(tmp_path, outcomes)).evidence
    (fixed,) = figures("fixes", ev).values()
    assert "feature tests" in texts(fixed.svg)
    done = sum(1 for d in ev["defects"] if d["fixed"])
    assert fixed.caption.startswith(f"{done} of {len(ev['defects'])} seeded defects fixed")


def test_the_claims_figure_shows_head_against_base_and_names_the_false_claims(
    tmp_path: Path,
) -> None:
    ev = test_claims.graded(tmp_path, [test_claims.LATENCY]).evidence
    (claims,) = figures("claims", ev).values()
    assert {"latency", "auc"} <= set(texts(claims.svg))
    # 100 ms -> 95 ms is not "down 40%"; the AUC moved 0.001: unchanged, as claimed.
    assert claims.caption == "false: latency; called out in the review: latency"


def test_no_evidence_draws_no_figure() -> None:
    assert figures("review", {}) == {} and figures("fixes", {}) == {}
    assert figures("claims", {"claims": [{"id": "tests", "base": True, "head": True}]}) == {}


def test_evidence_from_an_older_version_without_decoys_still_draws() -> None:
    ev = {
        "defects": [{"severity": "minor", "found": True}, {"severity": "blocker", "found": False}]
    }
    (found,) = figures("review", ev).values()
    assert found.caption.startswith("found 1 of 2 seeded defects; 0 of 0 decoys flagged")
