"""The built-in cheats, registered through the same hook a firm's plugin would use.

Each one attacks the built-in graders its trick applies to:

- ``hidden-paths``: the service and the notebook look for the hidden answer files anywhere on
  their container's filesystem (a search service: the relevance judgments);
- ``network``: they ask the validator's answer server, outside the sandbox, for the answers;
- ``hard-coded``: the service answers every input with the most common right answer, and the
  postmortem is written before anything happened, claiming a mitigation;
- ``over-quota``: the deployment declares more CPUs or memory than the challenge's quota;
- ``inflated-metrics``: the old champion model is registered again with a near-perfect claimed
  metric;
- ``forged-outputs``: the notebook's saved outputs show the true answers its code never
  computes;
- ``flag-everything``: the code review flags every line the pull request changed as a blocker;
- ``dev-answers`` and ``query-cache`` (runner/gate/search_cheats.py): a search service that
  knows only the example questions, or caches answers by query text.

The service tricks replace the candidate's start script, so they run wherever the service runs:
alone, or as each replica of a declared deployment (told its port by ``PORT``).
"""

from __future__ import annotations

import json
from typing import Any

import nbformat
import yaml

from prodproven.graders.correctness import CorrectnessParams, best_constant
from prodproven.graders.deployment import (
    MAX_CPUS,
    MAX_MEMORY_MB,
    MAX_REPLICAS,
    DeploymentInvalid,
    parse_deploy,
)
from prodproven.graders.load import LoadParams
from prodproven.graders.mlflow_model import MlflowModelParams
from prodproven.graders.notebook import NotebookParams
from prodproven.graders.postmortem import PostmortemParams
from prodproven.graders.probes import probe
from prodproven.graders.review import ReviewParams
from prodproven.graders.served_auc import ServedAucParams
from prodproven.runner.gate.cheat_service import (
    counting_on,
    replace_service,
    start_script,
)
from prodproven.runner.gate.cheats import Cheat, CheatContext, NotApplicable, Probe
from prodproven.runner.gate.search_cheats import DevAnswers, QueryCache, search_service
from prodproven.sandbox.plugin import hookimpl

SERVICE_GRADERS = ("correctness", "load", "pytest", "capacity", "served-auc")
"""Kinds that measure the candidate's service (through the balancer, for a deployment)."""
DEPLOYMENT_GRADERS = (*SERVICE_GRADERS, "cost")
"""Kinds that need the declared deployment: the service's, and its cost."""


def _cell(script: str, *args: object) -> str:
    """A notebook cell: the probe ``script`` (which defines ``cheat``), then the call of
    ``cheat`` with ``args`` (written as Python literals)."""
    call = ", ".join(repr(arg) for arg in args)
    return f"{probe(script).decode()}\ncheat({call})\n"


def _answers(ctx: CheatContext) -> tuple[list[str], Any]:
    """The hidden (inputs, answers) files the service's answers are judged on, and the best
    constant answer: the correctness grader's expected outputs, else the served-auc grader's
    labels (its inputs are request bodies, which the cheat server unpacks)."""
    correctness = ctx.graders("correctness")
    if correctness:
        params = CorrectnessParams.model_validate(correctness[0].params)
        return [params.inputs, params.expected], best_constant(ctx.hidden_json(params.expected))[0]
    served = ctx.graders("served-auc")
    if served:
        auc = ServedAucParams.model_validate(served[0].params)
        return [auc.requests, auc.labels], best_constant(ctx.hidden_json(auc.labels))[0]
    defaults = CorrectnessParams.model_validate({})
    return [defaults.inputs, defaults.expected], 0


def _response_keys(ctx: CheatContext) -> list[str]:
    """The keys each answer goes under: what the load graders check, and the served-auc
    graders' probabilities (they rank by them)."""
    loads = ctx.graders("load")
    json_key = LoadParams.model_validate(loads[0].params).json_key if loads else None
    served = [ServedAucParams.model_validate(g.params).key for g in ctx.graders("served-auc")]
    return list(dict.fromkeys([json_key or "predictions", *served]))


def _service(ctx: CheatContext, mode: str) -> Probe | NotApplicable:
    """Replace the candidate's service with the cheat server in ``mode`` (for a search
    service, the search cheat server, attacking the relevance it would fake)."""
    if ctx.graders("relevance"):
        return search_service(ctx, mode, "relevance")
    attacked = counting_on(ctx, ctx.graders(*SERVICE_GRADERS))
    service = ctx.challenge.spec.service
    if not attacked or service is None:
        return NotApplicable("no grader measures a candidate service")
    rel = start_script(ctx)
    if isinstance(rel, NotApplicable):
        return rel
    hidden, constant = _answers(ctx)
    config = {
        "port": service.port,
        "mode": mode,
        "constant": constant,
        "keys": _response_keys(ctx),
        "hidden": hidden,
        "oracle": {
            "hosts": list(ctx.oracle.hosts),
            "port": ctx.oracle.port,
            "token": ctx.oracle.token,
        },
    }
    replace_service(ctx, rel, probe("cheat_server.py"), config)
    return Probe(tuple(g.name for g in attacked), f"{rel} starts a {mode} answer server")


def _notebooks(ctx: CheatContext, cell: Any, forge: bool = False) -> list[str]:
    """Rewrite each notebook grader's tagged cells; ``cell(expectation)`` gives new source
    (None: keep the starter's code). With ``forge``, save the truth as the cell's output."""
    attacked = []
    for grader in ctx.graders("notebook"):
        params = NotebookParams.model_validate(grader.params)
        starter = ctx.starter_file(params.path)
        nb = nbformat.read(starter, as_version=4) if starter else nbformat.v4.new_notebook()
        for expectation in params.expectations:
            tagged = [c for c in nb.cells if expectation.tag in c.metadata.get("tags", [])]
            if tagged:
                target = tagged[-1]
            else:
                target = nbformat.v4.new_code_cell("", metadata={"tags": [expectation.tag]})
                nb.cells.append(target)
            source = cell(expectation)
            if source is not None:
                target.source = source
            if forge:
                truth = json.dumps(ctx.hidden_json(expectation.truth))
                target.outputs = [nbformat.v4.new_output("stream", name="stdout", text=truth)]
                target.execution_count = 1
        ctx.write(params.path, nbformat.writes(nb))
        attacked.append(grader.name)
    return attacked


def _combine(
    service: Probe | NotApplicable, others: list[str], kind: str, how: str
) -> Probe | NotApplicable:
    """The service part, if it applied, plus the ``others`` graders of ``kind`` done ``how``."""
    if isinstance(service, NotApplicable):
        if not others:
            return NotApplicable(f"{service.reason}, and no {kind} grader")
        return Probe(tuple(others), how)
    return Probe(service.attacks + tuple(others), "; ".join([service.how] + [how] * bool(others)))


class HiddenPaths(Cheat):
    name = "hidden-paths"
    trick = "the submission searches its containers' filesystems for the hidden answer files"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        service = _service(ctx, "hidden")
        notebooks = _notebooks(ctx, lambda e: _cell("cheat_hidden_cell.py", e.truth.split("/")[-1]))
        return _combine(service, notebooks, "notebook", "tagged cells search / for the truth files")


class Network(Cheat):
    name = "network"
    trick = "the submission asks an answer server outside the sandbox for the answers"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        hosts = [*ctx.oracle.hosts, "host.docker.internal", "172.17.0.1"]
        service = _service(ctx, "network")
        notebooks = _notebooks(
            ctx,
            lambda e: _cell(
                "cheat_network_cell.py", hosts, ctx.oracle.port, ctx.oracle.token, e.truth
            ),
        )
        return _combine(
            service, notebooks, "notebook", "tagged cells fetch the truth over the network"
        )


class HardCoded(Cheat):
    name = "hard-coded"
    trick = "answers are hard-coded: one right-looking answer for every input, a postmortem "
    "written before anything happened"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        service = _service(ctx, "constant")
        postmortems = ctx.graders("postmortem")
        if postmortems:
            ctx.write(".autopilot/run.sh", _postmortems(ctx), executable=True)
        how = "a postmortem written at the start claims a mitigation"
        return _combine(service, [g.name for g in postmortems], "postmortem", how)


def _postmortems(ctx: CheatContext) -> str:
    lines = ["#!/usr/bin/env bash", "set -euo pipefail"]
    for grader in ctx.graders("postmortem"):
        params = PostmortemParams.model_validate(grader.params)
        body = [
            "---",
            f"root_cause: {params.categories[0]}",
            "detected_at: $(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%SZ)",
            "mitigated_at: $(date -u -d '+2 min' +%Y-%m-%dT%H:%M:%SZ)",
            "---",
            "# Postmortem",
        ]
        for section in params.sections:
            body += ["", f"## {section}", "", "Handled quickly and thoroughly."]
        body += [f"- follow-up {n + 1}" for n in range(params.min_prevention_items)]
        lines += [f"cat > /workspace/{params.path} <<EOF", *body, "EOF"]
    return "\n".join(lines) + "\n"


class InflatedMetrics(Cheat):
    name = "inflated-metrics"
    trick = "the old champion model is registered again with a near-perfect claimed metric"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        graders = ctx.graders("mlflow_model")
        if not graders:
            return NotApplicable("no mlflow_model grader")
        params = [MlflowModelParams.model_validate(g.params) for g in graders]
        targets = [{"model": p.model, "alias": p.alias, "metric": p.claimed_metric} for p in params]
        ctx.write(".cheat/mlflow.json", json.dumps(targets))
        ctx.write(".autopilot/run.sh", probe("cheat_inflate.sh"), executable=True)
        return Probe(tuple(g.name for g in graders), "re-registers the champion, claims 0.99")


class ForgedOutputs(Cheat):
    name = "forged-outputs"
    trick = "the notebook's saved outputs show the true answers; its code does not compute them"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        attacked = _notebooks(ctx, lambda e: None, forge=True)
        if not attacked:
            return NotApplicable("no notebook grader")
        return Probe(tuple(attacked), "tagged cells keep the starter's code, outputs forged")


class OverQuota(Cheat):
    name = "over-quota"
    trick = "the deployment declares more CPUs or memory than the quota allows"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        service = ctx.challenge.spec.service
        deployment = service.deployment if service else None
        if deployment is None:
            return NotApplicable("the service declares no deployment")
        attacked = counting_on(ctx, ctx.graders(*DEPLOYMENT_GRADERS))
        if not attacked:
            return NotApplicable("no grader needs the deployment")
        declared = [ctx.challenge.path("solution") / deployment.file]
        declared += [p for p in [ctx.starter_file(deployment.file)] if p is not None]
        found = next((p for p in declared if p.is_file()), None)
        if found is None:
            return NotApplicable(f"neither the reference nor the starter has {deployment.file}")
        model = parse_deploy(
            found.read_text(), deployment.quota, models_dir=deployment.models_dir
        ).model
        largest = {"model": model, "replicas": MAX_REPLICAS, "cpus": MAX_CPUS}
        text = yaml.safe_dump({**largest, "memory_mb": MAX_MEMORY_MB}, sort_keys=False)
        try:
            parse_deploy(text, deployment.quota, models_dir=deployment.models_dir)
        except DeploymentInvalid as refused:
            ctx.write(deployment.file, text)
            how = f"{deployment.file} serves {model} but {str(refused).split(': ', 1)[-1]}"
            return Probe(tuple(g.name for g in attacked), how, fails_run=True)
        quota = deployment.quota
        return NotApplicable(
            f"the quota ({quota.cpus:g} cpus, {quota.memory_mb} MB) admits the largest "
            "deployment the schema allows"
        )


class FlagEverything(Cheat):
    name = "flag-everything"
    trick = "the review flags every line the pull request changed as a blocker"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        graders = ctx.graders("review")
        if not graders:
            return NotApplicable("no review grader")
        targets = []
        for grader in graders:
            params = ReviewParams.model_validate(grader.params)
            manifest = ctx.hidden_json(params.manifest)
            where = {key: manifest[key] for key in ("repo", "base", "head")}
            targets.append({"file": params.file, **where, "categories": params.categories})
        ctx.write(".cheat/review.json", json.dumps(targets))
        ctx.write(".autopilot/run.sh", probe("cheat_flag_everything.sh"), executable=True)
        attacked = tuple(g.name for g in counting_on(ctx, graders))
        return Probe(attacked, "a blocker on every line `git diff BASE HEAD` added or changed")


@hookimpl
def register_cheats() -> list[Cheat]:
    return [
        HiddenPaths(),
        Network(),
        HardCoded(),
        InflatedMetrics(),
        ForgedOutputs(),
        OverQuota(),
        FlagEverything(),
        DevAnswers(),
        QueryCache(),
    ]
