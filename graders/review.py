"""The ``review`` grader: the candidate's review.md set against the seeded defects and decoys of
the pull request (the hidden manifest).

Each finding (in the order written) is matched to a seeded defect in the same file whose lines,
widened by ``line_tolerance``, hold its line: full credit with the defect's category, else
``wrong_category_credit``. A finding that matches no defect but a decoy flags the decoy; one
that matches neither is unmatched. The first finding on a defect decides its credit; a later
one counts as neither matched nor unmatched. Findings on PR.md are the claims grader's::

    recall R    = sum over defects of weight(severity) x credit / sum of weight(severity)
    precision P = matched / (matched + flagged decoys + unmatched)
    score       = F2 = 5PR / (4P + R), halved when a blocker is seeded and the verdict is not
                  request_changes; 0 (integrity finding ``shotgun_review``) when P is under
                  min_precision and there are more than 3 findings per seeded defect.

A malformed finding, or one whose category is not among ``categories``, is unmatched with a
note. A missing or unreadable review.md scores 0 with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator

from prodproven.graders.base import (
    HIDDEN_FILE,
    Condition,
    EvaluationEnvironment,
    Finding,
    Grader,
    GradeResult,
    Params,
    Verdict,
)
from prodproven.graders.findings import (
    SEVERITIES,
    SEVERITY_WEIGHTS,
    Malformed,
    Manifest,
    ManifestDecoy,
    ManifestDefect,
    Review,
    ReviewFinding,
    Severity,
    norm_path,
    read_manifest,
    read_review,
)
from prodproven.graders.frontmatter import DocumentInvalid, zero_because

SHOTGUN_FACTOR = 3
"""More findings than this many per seeded defect, at a precision under min_precision, is a
shotgun review."""
VERDICT_FACTOR = 0.5
"""What the score is multiplied by when a blocker is seeded and the verdict is approve."""
MAX_LISTED = 50
"""Unmatched findings and notes listed in the evidence (all are counted)."""


class ReviewParams(Params):
    file: str = Field("review.md", description="the review in the workspace")
    manifest: str = Field(
        "manifest.json", description="hidden defect manifest", json_schema_extra=HIDDEN_FILE
    )
    categories: list[str] = Field(min_length=1, description="the categories the brief lists")
    line_tolerance: int = Field(3, ge=0, description="lines a finding may be outside a range")
    severity_weights: dict[Severity, float] = Field(
        default_factory=lambda: dict(SEVERITY_WEIGHTS),
        description="weight of a seeded defect of each severity in recall",
    )
    wrong_category_credit: float = Field(
        0.5, ge=0, le=1, description="credit for a defect found under another category"
    )
    min_precision: float = Field(
        0.25, ge=0, le=1, description="below it, many findings are a shotgun"
    )
    pass_score: float = Field(0.5, ge=0, le=1, description="score that counts as passed")

    @field_validator("severity_weights")
    @classmethod
    def _every_severity(cls, weights: dict[Severity, float]) -> dict[Severity, float]:
        missing = [s for s in SEVERITIES if s not in weights]
        if missing or any(w <= 0 for w in weights.values()):
            raise ValueError(f"needs a positive weight for each of {', '.join(SEVERITIES)}")
        return weights


class ReviewGrader(Grader[ReviewParams]):
    kind = "review"
    description = (
        "Matches the review's findings to the pull request's seeded defects and decoys: "
        "severity-weighted recall, precision, F2 and the verdict."
    )
    Params = ReviewParams
    conditions = {
        "verdict": Condition[ReviewParams](
            "the verdict is request_changes when a blocker is seeded",
            lambda result, params: verdict_right(result),
        )
    }

    def grade(self, env: EvaluationEnvironment, params: ReviewParams) -> GradeResult:
        """Raises GraderError when the manifest is missing or invalid; a missing or unreadable
        review scores 0 with the reason."""
        manifest = read_manifest(env, params.manifest)
        try:
            review = read_review(env, params.file, manifest.repo)
        except DocumentInvalid as exc:
            return zero_because(str(exc))
        return score_review(review, manifest, params)


@dataclass
class Matching:
    """Where each finding went: ``found`` maps a defect id to (the finding, its credit)."""

    found: dict[str, tuple[ReviewFinding, float]] = field(default_factory=dict)
    flagged: dict[str, list[ReviewFinding]] = field(default_factory=dict)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[ReviewFinding] = field(default_factory=list)
    on_claims: int = 0

    @property
    def matched(self) -> int:
        return len(self.found)

    @property
    def flags(self) -> int:
        return sum(len(found) for found in self.flagged.values())


def match(review: Review, manifest: Manifest, params: ReviewParams) -> Matching:
    """Assign each finding to a defect, a decoy, or nothing (see the module's docstring)."""
    result = Matching()
    tol = params.line_tolerance
    for item in review.findings:
        if isinstance(item, Malformed):
            result.unmatched.append({"finding": item.index, "why": item.problem})
            continue
        if item.on_claims:
            result.on_claims += 1
            continue
        if item.category not in params.categories:
            why = f"finding {item.index}: category {item.category!r} is not one of the categories"
            result.unmatched.append({**item.brief(), "why": why})
            continue
        defects = [d for d in manifest.defects if _near(item, d, manifest.repo, tol)]
        if defects:
            best = min(defects, key=lambda d: (d.id in result.found, d.category != item.category,
                                               d.distance(item.line)))  # fmt: skip
            if best.id in result.found:
                result.duplicates.append(item)
            else:
                right = best.category == item.category
                result.found[best.id] = (item, 1.0 if right else params.wrong_category_credit)
            continue
        decoys = [d for d in manifest.decoys if _near(item, d, manifest.repo, tol)]
        if decoys:
            decoy = min(decoys, key=lambda d: d.distance(item.line))
            result.flagged.setdefault(decoy.id, []).append(item)
            continue
        result.unmatched.append({**item.brief(), "why": "matches no seeded defect"})
    return result


def _near(item: ReviewFinding, entry: ManifestDefect | ManifestDecoy, repo: str, tol: int) -> bool:
    return item.file == norm_path(entry.file, repo) and entry.distance(item.line) <= tol


def f2(precision: float, recall: float) -> float:
    """F-beta with beta 2 (recall weighs four times as much as precision); 0 when both are."""
    denominator = 4 * precision + recall
    return 5 * precision * recall / denominator if denominator else 0.0


def score_review(review: Review, manifest: Manifest, params: ReviewParams) -> GradeResult:
    found = match(review, manifest, params)
    weights = params.severity_weights
    total = sum(weights[d.severity] for d in manifest.defects)
    recall = sum(weights[d.severity] * found.found[d.id][1]
                 for d in manifest.defects if d.id in found.found) / total  # fmt: skip
    counted = found.matched + found.flags + len(found.unmatched)
    precision = found.matched / counted if counted else 0.0
    blocker = any(d.severity == "blocker" for d in manifest.defects)
    right = review.verdict == "request_changes" or not blocker
    score = f2(precision, recall) * (1.0 if right else VERDICT_FACTOR)
    code_findings = review.written - found.on_claims
    findings = []
    if precision < params.min_precision and code_findings > SHOTGUN_FACTOR * len(manifest.defects):
        findings.append(
            Finding(
                kind="shotgun_review",
                message=f"{code_findings} findings for {len(manifest.defects)} seeded defects "
                f"at a precision of {precision:.2f}: a review that flags everything finds "
                "nothing",
                evidence={
                    "findings": code_findings,
                    "precision": round(precision, 4),
                    "seeded_defects": len(manifest.defects),
                },  # fmt: skip
            )
        )
        score = 0.0
    expected = "request_changes" if blocker else "either"
    summary = (
        f"found {found.matched} of {len(manifest.defects)} seeded defects (recall {recall:.2f}, "
        f"precision {precision:.2f}), {found.flags} decoy flags, {len(found.unmatched)} "
        f"unmatched; verdict {review.verdict} ({'right' if right else 'wrong'})"
        + ("; a shotgun review scores 0" if findings else f": score {score:.2f}")
    )
    return GradeResult(
        score=round(score, 4),
        passed=right and not findings and score >= params.pass_score,
        summary=summary,
        evidence={
            "defects": [_defect(d, found) for d in manifest.defects],
            "decoys": [_decoy(d, found) for d in manifest.decoys],
            "unmatched": found.unmatched[:MAX_LISTED],
            "unmatched_count": len(found.unmatched),
            "duplicates": [item.index for item in found.duplicates],
            "claims_findings": found.on_claims,
            "recall": round(recall, 4),
            "precision": round(precision, 4),
            "f2": round(f2(precision, recall), 4),
            "verdict": {"given": review.verdict, "expected": expected, "right": right},
            "severity_weights": dict(weights),
            "findings_written": review.written,
            "notes": review.notes,
        },
        findings=findings,
    )


def _defect(defect: ManifestDefect, found: Matching) -> dict[str, Any]:
    hit = found.found.get(defect.id)
    entry = {"id": defect.id, "file": defect.file, "lines": list(defect.lines),
             "category": defect.category, "severity": defect.severity, "title": defect.title,
             "found": hit is not None, "credit": hit[1] if hit else 0.0}  # fmt: skip
    if hit:
        entry["by"] = hit[0].brief()
    return entry


def _decoy(decoy: ManifestDecoy, found: Matching) -> dict[str, Any]:
    flags = found.flagged.get(decoy.id, [])
    return {"id": decoy.id, "file": decoy.file, "lines": list(decoy.lines),
            "looks_like": decoy.looks_like, "why_right": decoy.why_right,
            "flagged": bool(flags), "by": [item.brief() for item in flags]}  # fmt: skip


def verdict_right(result: GradeResult) -> Verdict:
    """The ``verdict`` condition: request_changes when a blocker is seeded."""
    verdict = result.evidence.get("verdict")
    if not isinstance(verdict, dict):
        return Verdict(False, f"not measured: {result.summary}")
    if verdict.get("right"):
        return Verdict(True, f"verdict {verdict.get('given')}, as the seeded defects call for")
    return Verdict(
        False, f"verdict {verdict.get('given')}, but a blocker is seeded: request_changes"
    )
