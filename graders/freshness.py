"""The ``freshness`` grader: documents posted to a search service must become searchable within
a bound, and a replaced document's old text must stop answering.

A probe in the pod (graders/probes/freshness_probe.py) posts hidden new and replacing documents
one per request and polls the search, measuring each document's lag from the 200 of its post
to the first answer holding it; the host decides what was in time, so the bound is one
parameter, not a constant in the probe.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, RootModel, ValidationError

from prodproven.graders.base import (
    HIDDEN_FILE,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Params,
    read_hidden,
)
from prodproven.graders.retrieval import run_search_probe

POLL_INTERVAL_S = 0.25
"""How often the probe asks again whether a posted document is visible."""


class FreshnessParams(Params):
    added: str = Field(
        "freshness/added.json",
        description='hidden JSON list of {"document": {"id", "title", "text"}, "query"}: '
        "documents with new ids, and a query that finds each",
        json_schema_extra=HIDDEN_FILE,
    )
    replaced: str = Field(
        "freshness/replaced.json",
        description='hidden JSON list of {"document", "old_query", "new_query"}: new versions '
        "of existing ids, a query of the old text and one of the new",
        json_schema_extra=HIDDEN_FILE,
    )
    bound_s: float = Field(5, gt=0, description="seconds after the post's 200 to be searchable")
    grace_s: float = Field(
        5, ge=0, description="seconds the probe keeps polling past the bound, to report lags"
    )
    k: int = Field(10, ge=1, le=100, description="a document counts as found in the top k")
    pass_share: float = Field(
        0.9, gt=0, le=1, description="share of added and of replaced documents needed to pass"
    )
    search_endpoint: str = Field("/search", description='POST path taking {"query", "k"}')
    documents_endpoint: str = Field("/documents", description='POST path taking {"documents"}')
    request_timeout_s: float = Field(10, gt=0, description="per request")


class Document(BaseModel):
    id: str
    title: str
    text: str


class Added(BaseModel):
    document: Document
    query: str


class Replaced(BaseModel):
    document: Document
    old_query: str
    new_query: str


class AddedFile(RootModel[list[Added]]):
    root: list[Added] = Field(min_length=1)


class ReplacedFile(RootModel[list[Replaced]]):
    root: list[Replaced] = Field(min_length=1)


class AddedOutcome(BaseModel):
    """What the probe saw of one added document: the post's status, the seconds from its 200
    to the first answer holding it (None: not within bound + grace) and the last error."""

    id: str
    ack_status: int | None
    lag_s: float | None
    error: str = ""


class ReplacedOutcome(AddedOutcome):
    """``lag_s`` is for the new text; ``old_gone``: the old text's query no longer had the id
    in the top k, bound_s after the post (None: never asked); ``old_before``: it had it
    before the post (else the check says little)."""

    old_before: bool | None = None
    old_gone: bool | None = None


class FreshnessReport(BaseModel):
    added: list[AddedOutcome]
    replaced: list[ReplacedOutcome]


def miss_reason(outcome: AddedOutcome, bound_s: float) -> str | None:
    """Why a document was not searchable in time, or None when it was."""
    if outcome.ack_status != 200:
        return f"POST refused ({outcome.ack_status}): {outcome.error[:160]}"
    if outcome.lag_s is None:
        return "never found" + (f" (last error: {outcome.error[:120]})" if outcome.error else "")
    if outcome.lag_s > bound_s:
        return f"found after {outcome.lag_s:.2f} s, over the {bound_s:g} s bound"
    if isinstance(outcome, ReplacedOutcome) and not outcome.old_gone:
        return f"the old text still answers {bound_s:g} s after the replacement"
    return None


def share(count: int, total: int) -> float:
    return count / total if total else 0.0


def binomial_se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n) if n else 0.0


def score_freshness(report: FreshnessReport, params: FreshnessParams) -> GradeResult:
    """Score = mean of the shares of added and of replaced documents handled within bound_s;
    passed when both shares reach pass_share."""
    groups: dict[str, Sequence[AddedOutcome]] = {"added": report.added, "replaced": report.replaced}
    misses: list[dict[str, Any]] = []
    shares = {}
    for name, outcomes in groups.items():
        reasons = [(o, miss_reason(o, params.bound_s)) for o in outcomes]
        misses += [{"kind": name, "id": o.id, "why": why} for o, why in reasons if why]
        shares[name] = share(sum(1 for _, why in reasons if why is None), len(outcomes))
    lags = [o.lag_s for o in (*report.added, *report.replaced) if o.lag_s is not None]
    score = statistics.fmean(shares.values())
    sem = math.hypot(*(binomial_se(shares[n], len(g)) for n, g in groups.items())) / 2
    passed = all(s >= params.pass_share for s in shares.values())
    return GradeResult(
        score=round(score, 4),
        passed=passed,
        sem=round(sem, 4),
        summary=f"{shares['added']:.0%} of {len(report.added)} added and "
        f"{shares['replaced']:.0%} of {len(report.replaced)} replaced documents searchable "
        f"within {params.bound_s:g} s (needed {params.pass_share:.0%})",
        evidence={
            "added_share": round(shares["added"], 4),
            "replaced_share": round(shares["replaced"], 4),
            "added": len(report.added),
            "replaced": len(report.replaced),
            "bound_s": params.bound_s,
            "pass_share": params.pass_share,
            "lag_median_s": round(statistics.median(lags), 3) if lags else None,
            "lag_max_s": round(max(lags), 3) if lags else None,
            "old_found_before": sum(1 for o in report.replaced if o.old_before),
            "misses": misses[:20],
        },
    )


class FreshnessGrader(Grader[FreshnessParams]):
    kind = "freshness"
    description = (
        "Posts new and replacing documents and measures how soon search finds them (and "
        "stops finding the replaced text)."
    )
    Params = FreshnessParams
    timed = True  # each document's lag against bound_s

    def grade(self, env: EvaluationEnvironment, params: FreshnessParams) -> GradeResult:
        added = read_hidden(env, params.added, AddedFile, "a list of added documents")
        replaced = read_hidden(env, params.replaced, ReplacedFile, "a list of replacements")
        env.ensure_service()
        config = {
            "port": env.service_port,
            "search": params.search_endpoint,
            "documents": params.documents_endpoint,
            "k": params.k,
            "timeout": params.request_timeout_s,
            "bound_s": params.bound_s,
            "grace_s": params.grace_s,
            "interval_s": POLL_INTERVAL_S,
            "threads": 4,
        }
        items = {"added": added.model_dump(), "replaced": replaced.model_dump()}
        documents = len(added.root) + len(replaced.root)
        raw = run_search_probe(
            env,
            "freshness_probe.py",
            {"config": config, "items": items},
            timeout=60 + documents * 2 * params.request_timeout_s + params.bound_s + params.grace_s,
        )
        try:
            report = FreshnessReport.model_validate_json(raw)
        except ValidationError as exc:
            raise GraderError(f"the freshness probe wrote an unreadable report: {exc}") from exc
        if (len(report.added), len(report.replaced)) != (len(added.root), len(replaced.root)):
            raise GraderError("the freshness probe did not report on every document")
        return score_freshness(report, params)
