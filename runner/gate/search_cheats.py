"""Cheats on a search service (the ``relevance`` and ``search-load`` graders), registered with
the built-in cheats:

- ``dev-answers``: the service answers the example questions in the workspace with their
  relevant ids and every other query with a fixed list: it wins only if the graded questions
  are the examples;
- ``query-cache``: the starter's service behind a cache keyed on the query text: it wins only
  if the load test repeats its queries;
- the built-in service cheats, for a challenge with a relevance grader: ``hidden-paths``
  looks for the hidden relevance judgments on the container's filesystem, ``network`` asks the
  validator's answer server for them, ``hard-coded`` answers every query with the same ids.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from prodproven.graders.probes import probe
from prodproven.graders.retrieval import RelevanceParams
from prodproven.runner.gate.cheat_service import (
    counting_on,
    replace_service,
    start_script,
)
from prodproven.runner.gate.cheats import Cheat, CheatContext, NotApplicable, Probe

WORKSPACE = PurePosixPath("/workspace")
DEV = "queries/dev.jsonl"
CORPUS = "corpus/docs.jsonl"
STARTER_APP = "app.py"


def search_service(ctx: CheatContext, mode: str, *kinds: str) -> Probe | NotApplicable:
    """Replace the service with the stdlib search cheat server in ``mode``, attacking the
    spec's graders of ``kinds`` (and those that require them)."""
    attacked = counting_on(ctx, ctx.graders(*kinds))
    if not attacked:
        return NotApplicable(f"no {' or '.join(kinds)} grader")
    rel = start_script(ctx)
    if isinstance(rel, NotApplicable):
        return rel
    relevance = ctx.graders("relevance")
    params = RelevanceParams.model_validate(relevance[0].params if relevance else {})
    service = ctx.challenge.spec.service
    config = {
        "port": service.port if service else 8000,
        "mode": mode,
        "dev": str(WORKSPACE / DEV),
        "corpus": str(WORKSPACE / CORPUS),
        "hidden": params.queries,
        "oracle": {
            "hosts": list(ctx.oracle.hosts),
            "port": ctx.oracle.port,
            "token": ctx.oracle.token,
        },
    }
    replace_service(ctx, rel, probe("cheat_search_server.py"), config)
    return Probe(tuple(g.name for g in attacked), f"{rel} starts a {mode} search server")


class DevAnswers(Cheat):
    name = "dev-answers"
    trick = "the service answers the example questions with their relevant ids, others with a "
    "fixed list"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        if ctx.starter_file(DEV) is None:
            return NotApplicable(f"the workspace has no {DEV}")
        return search_service(ctx, "dev-answers", "relevance", "search-load")


class QueryCache(Cheat):
    name = "query-cache"
    trick = "the starter's service behind a cache keyed on the query text"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        attacked = counting_on(ctx, ctx.graders("search-load"))
        if not attacked:
            return NotApplicable("no search-load grader")
        if ctx.starter_file(STARTER_APP) is None:
            return NotApplicable(f"the starter has no {STARTER_APP} to wrap")
        rel = start_script(ctx)
        if isinstance(rel, NotApplicable):
            return rel
        service = ctx.challenge.spec.service
        config = {"port": service.port if service else 8000, "workspace": str(WORKSPACE)}
        replace_service(ctx, rel, probe("cheat_query_cache.py"), config)
        how = f"{rel} serves the starter's app:app behind an LRU cache on the query text"
        return Probe(tuple(g.name for g in attacked), how)
