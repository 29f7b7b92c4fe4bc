"""The ``claims`` grader: the pull request's checkable claims, measured, and whether the review
called out the false ones.

In a tester container (the challenge image) the hidden bundle of the repository as the
assistant made it is cloned twice, at the manifest's base and head commits, and the hidden
harness measures both checkouts the same way, in turns, so that contention slows both alike
(``{"p95_ms", "auc", "tests_passed"}`` for each). Each claim
is decided from the two measurements, with a margin for measurement noise::

    ratio   holds when head / base <= at_most + RATIO_MARGIN
    delta   holds when |head - base| <= within + DELTA_MARGIN
    true    holds when head's value is true

A call-out is a review finding on PR.md with category misleading_claim, assigned to the claim
nearest its line within ``line_tolerance`` (the first on a tie)::

    score = max(0, false claims called out - true claims called out) / false claims
            (1 when no claim is false and none is called out)

A missing or unreadable review scores 0 with the reason, before anything is measured.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from prodproven.graders.base import (
    HIDDEN_FILE,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
)
from prodproven.graders.findings import (
    MISLEADING_CLAIM,
    Manifest,
    ManifestClaim,
    Review,
    ReviewFinding,
    read_manifest,
    read_review,
)
from prodproven.graders.frontmatter import DocumentInvalid, zero_because
from prodproven.graders.probes import probe
from prodproven.graders.pytest_grader import hidden_folder
from prodproven.sandbox.untrusted import UntrustedInput, load_json

RATIO_MARGIN = 0.1
DELTA_MARGIN = 0.01
Measurement = dict[str, Any]


class ClaimsParams(Params):
    manifest: str = Field(
        "manifest.json", description="hidden defect manifest", json_schema_extra=HIDDEN_FILE
    )
    bundle: str = Field(
        "repo.bundle",
        description="hidden git bundle of base and head",
        json_schema_extra=HIDDEN_FILE,
    )
    harness: str = Field(
        "claims/measure.py", description="hidden measuring script", json_schema_extra=HIDDEN_FILE
    )
    data: str = Field(
        "claims", description="hidden folder the harness reads", json_schema_extra=HIDDEN_FILE
    )
    file: str = Field("review.md", description="the review in the workspace")
    line_tolerance: int = Field(1, ge=0, description="lines a call-out may be off its claim")
    timeout_s: float = Field(120, gt=0, description="for both clones and measurements")


class ClaimsGrader(Grader[ClaimsParams]):
    kind = "claims"
    description = (
        "Measures the pull request's claims on its base and head and credits the review for "
        "calling out the false ones as misleading_claim."
    )
    Params = ClaimsParams

    def grade(self, env: EvaluationEnvironment, params: ClaimsParams) -> GradeResult:
        """Raises GraderError when hidden material is missing or invalid or the harness fails
        or writes no valid measurement; a missing or unreadable review scores 0."""
        manifest = read_manifest(env, params.manifest)
        try:
            review = read_review(env, params.file, manifest.repo)
        except DocumentInvalid as exc:
            return zero_because(str(exc))
        base, head = measure(env, manifest, params)
        return score_claims(manifest, review, base, head, params)


def measure(
    env: EvaluationEnvironment, manifest: Manifest, params: ClaimsParams
) -> tuple[Measurement, Measurement]:
    """The harness's measurements of the base and the head commit, run in one tester."""
    files = {params.bundle: env.hidden_file(params.bundle).read_bytes(),
             params.harness: env.hidden_file(params.harness).read_bytes(),
             "claims_measure.sh": probe("claims_measure.sh")}  # fmt: skip
    files.update(hidden_folder(env, params.data, params.data))
    paths = [f"/grading/{rel}" for rel in ("claims_measure.sh", params.bundle, params.harness,
                                           params.data)]  # fmt: skip
    cmd = ["sh", *paths, manifest.base_commit, manifest.head_commit]
    out = env.run_tester(files, cmd, timeout=params.timeout_s)
    found = []
    for which in ("base", "head"):
        raw = out.files.get(f"{which}.json")
        if raw is None:
            raise GraderError(
                f"the claims harness measured no {which} (exit {out.result.exit_code}): "
                f"{(out.result.stdout + out.result.stderr)[-800:]}"
            )
        try:
            value = load_json(raw, what=f"the {which} measurement")
        except UntrustedInput as exc:
            raise GraderError(str(exc)) from exc
        if not isinstance(value, dict):
            raise GraderError(f"the {which} measurement is not a JSON object")
        found.append(value)
    return found[0], found[1]


def decide(claim: ManifestClaim, base: Measurement, head: Measurement) -> dict[str, Any]:
    """Whether ``claim`` held, with the measured values and the rule it was held to."""
    if claim.metric not in base or claim.metric not in head:
        raise GraderError(f"claim {claim.id}: the harness measured no {claim.metric!r}")
    before, after = base[claim.metric], head[claim.metric]
    entry: dict[str, Any] = {"base": before, "head": after}
    if claim.kind == "true":
        return {**entry, "holds": after is True, "rule": f"head's {claim.metric} is true"}
    if not all(_number(v) for v in (before, after)):
        raise GraderError(f"claim {claim.id}: {claim.metric} is not a number in both measurements")
    if claim.kind == "ratio":
        assert claim.at_most is not None
        if before <= 0:
            raise GraderError(f"claim {claim.id}: base {claim.metric} {before} is not positive")
        limit, ratio = claim.at_most + RATIO_MARGIN, after / before
        rule = f"head/base {ratio:.3f} <= {limit:g}"
        return {**entry, "ratio": round(ratio, 4), "holds": ratio <= limit, "rule": rule}
    assert claim.within is not None
    limit, delta = claim.within + DELTA_MARGIN, after - before
    rule = f"|head - base| {abs(delta):.4f} <= {limit:g}"
    return {**entry, "delta": round(delta, 6), "holds": abs(delta) <= limit, "rule": rule}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def call_outs(
    review: Review, claims: list[ManifestClaim], tolerance: int
) -> tuple[dict[str, list[ReviewFinding]], list[ReviewFinding]]:
    """Each claim's call-outs, and the misleading_claim findings on PR.md near none."""
    by_claim: dict[str, list[ReviewFinding]] = {}
    stray = []
    for item in review.findings:
        if not isinstance(item, ReviewFinding) or not item.on_claims:
            continue
        if item.category != MISLEADING_CLAIM:
            continue
        near = [c for c in claims if c.distance(item.line) <= tolerance]
        if not near:
            stray.append(item)
            continue
        claim = min(near, key=lambda c: (c.distance(item.line), c.lines[0]))
        by_claim.setdefault(claim.id, []).append(item)
    return by_claim, stray


def score_claims(
    manifest: Manifest,
    review: Review,
    base: Measurement,
    head: Measurement,
    params: ClaimsParams,
) -> GradeResult:
    by_claim, stray = call_outs(review, manifest.claims, params.line_tolerance)
    claims = []
    for claim in manifest.claims:
        found = by_claim.get(claim.id, [])
        claims.append({"id": claim.id, "kind": claim.kind, "metric": claim.metric,
                       "text": claim.text, "lines": list(claim.lines), **decide(claim, base, head),
                       "called_out": bool(found), "by": [f.brief() for f in found]})  # fmt: skip
    false = [c["id"] for c in claims if not c["holds"]]
    caught = [c["id"] for c in claims if not c["holds"] and c["called_out"]]
    wrongly = [c["id"] for c in claims if c["holds"] and c["called_out"]]
    net = max(0, len(caught) - len(wrongly))
    score = net / len(false) if false else float(not wrongly)
    summary = (
        f"{len(caught)} of {len(false)} false claims called out"
        + (f" ({', '.join(caught)})" if caught else "")
        + (f"; true claims called out: {', '.join(wrongly)}" if wrongly else "")
    )
    return GradeResult(
        score=round(score, 4),
        passed=len(caught) == len(false) and not wrongly,
        summary=summary,
        evidence={
            "claims": claims,
            "false_claims": false,
            "called_out_false": caught,
            "called_out_true": wrongly,
            "stray_call_outs": [f.brief() for f in stray],
            "measurements": {"base": base, "head": head},
            "margins": {"ratio": RATIO_MARGIN, "delta": DELTA_MARGIN},
        },
    )
