"""The ``search-load`` grader: the ``load`` grader's steady locust run against a search service,
with a realistic mix: searches, document updates and spot checks whose answers must stay right.

The host lays out the whole request schedule (graders/probes/locustfile.py sends it in turn),
and every search body in it is sent once: a cache keyed on the query text never helps, so the
latency measured is the index's. Spot checks (a document's exact title, its id expected in the
top k) are recorded by the probe and checked here, so a service that answers fast but wrong
under load, or loses documents while it indexes updates, does not earn the load's points.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, RootModel

from prodproven.graders.base import (
    HIDDEN_FILE,
    Condition,
    EvaluationEnvironment,
    Grader,
    GraderError,
    GradeResult,
    Verdict,
    read_hidden,
)
from prodproven.graders.curves import ramp_up
from prodproven.graders.load import LoadParams, drive_steady, score_load, slo_held
from prodproven.graders.retrieval import result_ids

SCHEDULE_MARGIN = 1.2
"""The schedule holds this many times the requests the rate and duration call for: locust
never runs out and never wraps round to a search it sent already."""


class SearchLoadParams(LoadParams):
    payloads: str = Field(
        "load/searches.json",
        description='hidden JSON list of search bodies {"query": str, "k": int}, each sent once',
        json_schema_extra=HIDDEN_FILE,
    )
    updates: str = Field(
        "load/updates.json",
        description='hidden JSON list of bodies {"documents": [...]} posted as updates',
        json_schema_extra=HIDDEN_FILE,
    )
    spot_checks: str = Field(
        "load/spot_checks.json",
        description='hidden JSON list of {"body": search body, "expect": id}',
        json_schema_extra=HIDDEN_FILE,
    )
    endpoint: str = Field("/search", description="POST path of the searches and spot checks")
    documents_endpoint: str = Field("/documents", description="POST path of the updates")
    json_key: str | None = Field(
        "results", description="a search's 2xx must be a JSON object with a list under this key"
    )
    update_every: int = Field(20, ge=2, description="every n-th request is an update")
    spot_every: int = Field(
        10, ge=2, description="every n-th request (unless an update) is a spot check"
    )
    spot_k: int = Field(10, ge=1, le=100, description="a spot check's id must be in the top k")
    spot_pass_share: float = Field(
        0.95, gt=0, le=1, description="share of spot checks answered right for full marks"
    )
    spot_zero_share: float = Field(
        0.5, ge=0, lt=1, description="share of spot checks right that scores 0"
    )


class SearchBody(BaseModel):
    query: str
    k: int = 10


class SearchBodies(RootModel[list[SearchBody]]):
    root: list[SearchBody] = Field(min_length=1)


class UpdateBody(BaseModel):
    documents: list[dict[str, Any]] = Field(min_length=1)


class UpdateBodies(RootModel[list[UpdateBody]]):
    root: list[UpdateBody] = Field(min_length=1)


class SpotCheck(BaseModel):
    body: SearchBody
    expect: str


class SpotChecks(RootModel[list[SpotCheck]]):
    root: list[SpotCheck] = Field(min_length=1)


@dataclass(frozen=True)
class Scheduled:
    """One request of the schedule; ``expect``: a spot check's id."""

    kind: str  # "search", "update" or "spot"
    body: dict[str, Any]
    expect: str | None = None


def kinds(count: int, update_every: int, spot_every: int) -> list[str]:
    """The kind of each of ``count`` requests: the n-th (from 1) is an update when n is a
    multiple of update_every, else a spot check when a multiple of spot_every, else a search."""
    return [
        "update" if n % update_every == 0 else "spot" if n % spot_every == 0 else "search"
        for n in range(1, count + 1)
    ]


def build_schedule(
    searches: Sequence[SearchBody],
    updates: Sequence[UpdateBody],
    spots: Sequence[SpotCheck],
    *,
    count: int,
    update_every: int,
    spot_every: int,
) -> list[Scheduled]:
    """``count`` requests, each hidden body used at most once, in the files' order; GraderError
    when a file is too short or repeats a search (a cache must never be able to help)."""
    texts = [" ".join(s.query.lower().split()) for s in searches]
    if len(set(texts)) != len(texts):
        raise GraderError("the hidden searches repeat a query: each must be sent once")
    order = kinds(count, update_every, spot_every)
    available = {"search": len(searches), "update": len(updates), "spot": len(spots)}
    for kind, have in available.items():
        if order.count(kind) > have:
            raise GraderError(
                f"the schedule of {count} requests needs {order.count(kind)} {kind} bodies; "
                f"the hidden file has {have}"
            )
    taken = {"search": iter(searches), "update": iter(updates), "spot": iter(spots)}
    schedule = []
    for kind in order:
        item = next(taken[kind])
        if isinstance(item, SpotCheck):
            schedule.append(Scheduled(kind, item.body.model_dump(), item.expect))
        else:
            schedule.append(Scheduled(kind, item.model_dump()))
    return schedule


def payload(item: Scheduled, params: SearchLoadParams) -> dict[str, Any]:
    """The routed locust payload of one scheduled request (see graders/probes/locustfile.py)."""
    update = item.kind == "update"
    return {
        "path": params.documents_endpoint if update else params.endpoint,
        "body": item.body,
        "key": None if update else params.json_key,
        "record": item.kind == "spot",
    }


def check_spots(
    recorded: Sequence[dict[str, Any]], schedule: Sequence[Scheduled], k: int
) -> list[dict[str, Any]]:
    """Each spot check the probe sent, with whether its expected id was in the top ``k``."""
    checked = []
    for row in recorded:
        item = schedule[int(row["index"]) % len(schedule)]
        if item.kind != "spot":
            continue
        ids = result_ids(row.get("answer"), k) if row.get("status") == 200 else None
        checked.append({"query": item.body["query"], "expect": item.expect,
                        "status": row.get("status"), "right": bool(ids and item.expect in ids),
                        "got": (ids or [])[:3]})  # fmt: skip
    return checked


def score_search_load(
    load: GradeResult,
    spots: Sequence[dict[str, Any]],
    sent: dict[str, int],
    params: SearchLoadParams,
) -> GradeResult:
    """The load's score times the spot factor: a ramp of the share of spot checks right from
    spot_zero_share (0) to spot_pass_share (1)."""
    if load.error:
        return load
    if not spots:
        return GradeResult.failed("no spot check was answered", **load.evidence)
    right = sum(1 for s in spots if s["right"])
    spot_share = right / len(spots)
    factor = ramp_up(spot_share, zero=params.spot_zero_share, full=params.spot_pass_share)
    evidence = dict(load.evidence)
    evidence["score_parts"] = {**load.evidence["score_parts"], "spot": round(factor, 4)}
    evidence["spot_checks"] = {
        "sent": len(spots),
        "right": right,
        "share": round(spot_share, 4),
        "pass_share": params.spot_pass_share,
        "misses": [s for s in spots if not s["right"]][:10],
    }
    evidence["sent"] = sent
    return GradeResult(
        score=round(load.score * factor, 4),
        passed=load.passed and spot_share >= params.spot_pass_share,
        sem=None if load.sem is None else round(load.sem * factor, 4),
        summary=f"{load.summary}; spot checks {right}/{len(spots)} right",
        evidence=evidence,
    )


def search_slo_held(result: GradeResult, params: SearchLoadParams) -> Verdict:
    """The ``slo`` condition: the load grader's, and the spot checks right often enough."""
    held = slo_held(result, params)
    spots = result.evidence.get("spot_checks")
    if not isinstance(spots, dict):
        return Verdict(False, f"not measured: {result.summary}")
    ok = float(spots["share"]) >= params.spot_pass_share
    detail = (f"{held.detail}; spot checks {spots['right']}/{spots['sent']} right "
              f"{'>=' if ok else '<'} {params.spot_pass_share:.0%}")  # fmt: skip
    return Verdict(held.met and ok, detail, held.borderline)


class SearchLoadGrader(Grader[SearchLoadParams]):
    kind = "search-load"
    description = (
        "Drives a search service with locust at a steady rate (unique searches, updates and "
        "spot checks) and scores p95, errors, throughput and the spot checks."
    )
    Params = SearchLoadParams
    timed = True  # p95 latency and throughput under locust
    conditions = {
        "slo": Condition[SearchLoadParams](
            "the load grader's slo (p95, errors, throughput) and at least spot_pass_share of "
            "the spot checks right",
            lambda result, params: search_slo_held(result, params),
        )
    }

    def grade(self, env: EvaluationEnvironment, params: SearchLoadParams) -> GradeResult:
        searches = read_hidden(env, params.payloads, SearchBodies, "a list of search bodies")
        updates = read_hidden(env, params.updates, UpdateBodies, "a list of update bodies")
        spots = read_hidden(env, params.spot_checks, SpotChecks, "a list of spot checks")
        duration = params.warmup_s + params.windows * params.window_s
        schedule = build_schedule(
            searches.root,
            updates.root,
            spots.root,
            count=math.ceil(params.rate * duration * SCHEDULE_MARGIN),
            update_every=params.update_every,
            spot_every=params.spot_every,
        )
        env.ensure_service()
        run = drive_steady(env, params, [payload(s, params) for s in schedule], routed=True)
        recorded = [json.loads(line) for line in run.files.get("answers.jsonl", b"").splitlines()]
        sent = {kind: 0 for kind in ("search", "update", "spot")}
        for index in range(min(len(run.samples), len(schedule))):
            sent[schedule[index].kind] += 1
        return score_search_load(
            score_load(run.samples, run.start, params),
            check_spots(recorded, schedule, params.spot_k),
            sent,
            params,
        )
