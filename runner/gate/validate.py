"""``challenge validate``: the gate before a challenge goes live, declared as a list of steps.

1. ``static``: the files the spec names exist, nothing leaks hidden or solution material,
   sizes are within limits (a failure here stops the rest: nothing is worth running yet);
2. ``scripted``: the scripted runs, ``jobs`` at a time, each judged into a check:

   - ``reference``: the reference solution within its band, against every fault of the
     catalogue for challenges with incidents (a responder that only handles the drawn fault
     is not a reference); in the ``ci`` tier, against the fault a scripted run draws only;
   - ``starter``: the untouched starter within its band;
   - ``calibration``: each submission of the calibration ladder (one that extends the
     reference: the reference solution overlaid with its own files) passes or fails as the
     spec says a practitioner would conclude, and scores within its band;
   - ``slow``: when the spec asks, the reference responder started late scores clearly lower;
   - ``cheat``: every registered cheat that applies scores 0 on each grader it attacks (or
     makes it raise an integrity finding), does not pass when its probe says it must not
     (a deployment over the quota), and never reaches the validator's answer server;

3. ``order``: the ladder's scores (reference, starter and calibration submissions) fall in
   the order the spec's ``calibration.order`` gives, best first;
4. ``noise``: the first reference run graded again from its one archive, ``repeats`` times in
   all; each grader's and the total's spread must stay within the spec's tolerance. Each
   grader's standard deviation across those gradings is recorded for the challenge version:
   later gradings report it in their score's uncertainty (runner/grading/uncertainty.py).
   Only in the ``release`` tier.

Two tiers: ``release`` (the default, what a challenge must pass before it goes live) runs all of
the above; ``ci`` leaves out the slow repeats (the per-fault matrix and the noise gradings) so
that every commit can afford the rest.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.gate import oracle
from prodproven.runner.gate.cheats import Cheat, CheatContext, NotApplicable, Probe
from prodproven.runner.gate.static_checks import static_problems
from prodproven.runner.grading.result import status_document
from prodproven.runner.grading.uncertainty import Regrading, record_regrading
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.runs import schedule
from prodproven.runner.runs.store import Run, Status, utcnow
from prodproven.runner.runs.workspace import RESPONDER
from prodproven.runner.spec.challenge import Challenge
from prodproven.runner.spec.prepare import Material
from prodproven.runner.spec.validation import CalibrationSubmission

_KEY_LIMIT_BYTES = 16 * 2**20


class Tier(StrEnum):
    """How much of the gate to run (see the module's docstring)."""

    ci = "ci"
    release = "release"


@dataclass
class Check:
    """One line of the verdict."""

    section: str
    label: str
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "label": self.label,
            "ok": self.ok,
            "skipped": self.skipped,
            "detail": self.detail,
            **self.data,
        }


@dataclass
class Validation:
    runner: Runner
    challenge: Challenge
    cheats: Sequence[Cheat]
    repeats: int
    jobs: int = 1
    workdir: Path = Path(".")
    tier: Tier = Tier.release
    checks: list[Check] = field(default_factory=list)
    references: list[Run] = field(default_factory=list)
    reference_scores: dict[str | None, float] = field(default_factory=dict)
    ladder: dict[str, float] = field(default_factory=dict)
    """Scores of the reference, the starter and each calibration submission, by name."""
    stopped: bool = False

    @property
    def material(self) -> Material:
        return self.runner.material(self.challenge)

    def verdict(self) -> dict[str, Any]:
        return {
            "challenge": self.challenge.id,
            "version": self.challenge.spec.version,
            "ok": all(c.ok for c in self.checks),
            "checks": [c.as_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class Planned:
    """A scripted run the gate needs, and how its outcome becomes a check."""

    section: str
    label: str
    submission: Path | None
    fault: str | None = None
    probe: Probe | None = None
    cheat: Cheat | None = None
    expected: CalibrationSubmission | None = None


def static(v: Validation) -> None:
    v.runner.report("validating: static checks")
    max_workspace = v.runner.settings.max_archive_mb * 2**20
    found = static_problems(v.challenge, v.material, v.runner.catalog, max_workspace)
    for name, problems in found.items():
        detail = "; ".join(problems) if problems else "ok"
        v.checks.append(Check("static", name, not problems, detail, {"problems": problems}))
    v.stopped = any(found.values())


START_FIRST = ("slow", "calibration")
"""Sections whose runs start before the others: the slow responder waits ``delay_s`` on
purpose, and calibration submissions do realistic work (a slow fix waits minutes), so with
several jobs the longest runs start first instead of last (longest-first scheduling); the
order they are judged in stays the plan's."""


def _start_order(plan: Planned) -> int:
    return START_FIRST.index(plan.section) if plan.section in START_FIRST else len(START_FIRST)


def scripted(v: Validation) -> None:
    """Every scripted run (reference, starter, calibration, slow responder, cheats), ``jobs``
    at a time, the longest first (:data:`START_FIRST`), judged in the plan's order once all are
    done."""
    material = v.material
    with oracle.serving(answer_key(material)) as served:
        plans = [*_references(v), _starter(v), *_calibration(v), *_slow(v)]
        skipped: list[Check] = []
        for cheat in v.cheats:
            dest = v.workdir / "cheats" / cheat.name
            dest.mkdir(parents=True)
            built = cheat.build(
                CheatContext(v.challenge, material, served.address(cheat.name), dest)
            )
            if isinstance(built, NotApplicable):
                skipped.append(
                    Check("cheat", cheat.name, True, built.reason, {"trick": cheat.trick}, True)
                )
            else:
                plans.append(Planned("cheat", cheat.name, dest, probe=built, cheat=cheat))
        with ThreadPoolExecutor(v.jobs, thread_name_prefix="validate") as pool:
            started = {id(p): pool.submit(_run, v, p) for p in sorted(plans, key=_start_order)}
            outcomes = [started[id(plan)].result() for plan in plans]
        for plan, outcome in zip(plans, outcomes, strict=True):
            v.checks.append(_judge(v, plan, outcome, served))
        v.checks += skipped


def _references(v: Validation) -> list[Planned]:
    spec = v.challenge.spec
    solution = v.challenge.path("solution")
    faults: list[str | None] = [f.name for f in spec.faults] if spec.schedule else [None]
    if spec.schedule and v.tier is Tier.ci:
        faults = [_drawn(v)]
    return [
        Planned("reference", "reference" if f is None else f"reference ({f})", solution, f)
        for f in faults
    ]


def _starter(v: Validation) -> Planned:
    return Planned("starter", "starter", None)


def _calibration(v: Validation) -> list[Planned]:
    ladder = v.challenge.spec.calibration
    if ladder is None:
        return []
    return [
        Planned("calibration", sub.name, _calibrated(v, sub), sub.fault, expected=sub)
        for sub in ladder.submissions
    ]


def _calibrated(v: Validation, sub: CalibrationSubmission) -> Path:
    """A calibration submission's folder: its own, or with ``extends: reference`` the
    reference solution overlaid with its own files (built in the validation's workdir)."""
    own = v.challenge.path("calibration") / sub.name
    if sub.extends is None:
        return own
    return _overlaid(v.workdir / "calibration" / sub.name, v.challenge.path("solution"), own)


def _slow(v: Validation) -> list[Planned]:
    spec = v.challenge.spec
    slow_check = spec.validation.slow
    solution = v.challenge.path("solution")
    if slow_check is None or not spec.schedule or not (solution / RESPONDER).is_file():
        return []
    drawn = _drawn(v)
    late = _delayed(solution, v.workdir / "slow", slow_check.delay_s)
    return [Planned("slow", f"reference {slow_check.delay_s:g} s late ({drawn})", late, drawn)]


def _drawn(v: Validation) -> str:
    """The fault a scripted run of the challenge draws (the same for every scripted run)."""
    return schedule.plan(v.challenge, utcnow(), variant=None, scripted=True)[0].fault


def _run(v: Validation, plan: Planned) -> Run | ProdprovenError:
    v.runner.report(f"validating: {plan.label}")
    candidate = f"validate-{plan.section}" + (f"-{plan.label}" if plan.cheat else "")
    try:
        return v.runner.run_scripted(
            v.challenge, plan.submission, candidate=candidate, fault=plan.fault
        )
    except ProdprovenError as exc:
        return exc


def _judge(
    v: Validation, plan: Planned, outcome: Run | ProdprovenError, served: oracle.Oracle
) -> Check:
    if isinstance(outcome, ProdprovenError):
        return Check(plan.section, plan.label, False, f"the run failed: {outcome}")
    if plan.cheat is not None and plan.probe is not None:
        return judge_cheat(plan.cheat, plan.probe, outcome, served.hits_of(plan.cheat.name))
    bands = v.challenge.spec.validation
    if plan.section == "reference":
        v.references.append(outcome)
        v.reference_scores[plan.fault] = float(outcome.score or 0.0)
        v.ladder.setdefault("reference", float(outcome.score or 0.0))
        return _banded(plan, outcome, str(bands.reference), bands.reference.contains, True)
    if plan.section == "starter":
        v.ladder["starter"] = float(outcome.score or 0.0)
        return _banded(plan, outcome, str(bands.starter), bands.starter.contains, False)
    if plan.expected is not None:
        v.ladder[plan.label] = float(outcome.score or 0.0)
        band = plan.expected.band
        return _banded(plan, outcome, str(band), band.contains, plan.expected.passed)
    assert bands.slow is not None
    if plan.fault not in v.reference_scores:
        return Check("slow", plan.label, False, "no prompt reference run to compare with")
    limit = v.reference_scores[plan.fault] - bands.slow.margin
    return _banded(plan, outcome, f"<= {limit:.1f}", lambda score: score <= limit)


def judge_cheat(
    cheat: Cheat, probe: Probe, run: Run, hits: Sequence[dict[str, str | None]]
) -> Check:
    """The cheat's check: each attacked grader scored 0 or raised a finding; the run did not
    pass when the probe says it must not; no oracle hits."""
    doc = status_document(run)
    flagged = {f.grader for f in doc.integrity}
    failures = []
    outcome = {}
    for name in probe.attacks:
        grader = doc.grader(name)
        score = grader.score if grader else None
        outcome[name] = {"score": score, "finding": name in flagged}
        if grader is None:
            failures.append(f"{name} was not graded")
        elif score and name not in flagged:
            failures.append(f"{name} scored {score:.2f} without a finding")
    if run.status is not Status.graded:
        failures.append(f"the run ended {run.status.value}: {run.error}")
    elif probe.fails_run and doc.passed:
        failures.append("the run passed")
    if hits:
        sources = sorted({str(h["from"]) for h in hits})
        failures.append(f"reached the answer server {len(hits)} times from {', '.join(sources)}")
    detail = "; ".join(failures) or ", ".join(
        f"{name}: {'finding' if o['finding'] else '0'}" for name, o in outcome.items()
    )
    data = {
        "trick": cheat.trick,
        "how": probe.how,
        "run_id": run.id,
        "attacked": outcome,
        "passed": doc.passed,
    }
    return Check("cheat", cheat.name, not failures, detail, {**data, "oracle_hits": list(hits)})


def order(v: Validation) -> None:
    """The ladder's scores fall in the spec's order, best first (ties allowed)."""
    ladder = v.challenge.spec.calibration
    if ladder is None or not ladder.order:
        return
    missing = [name for name in ladder.order if name not in v.ladder]
    scores = [(name, v.ladder[name]) for name in ladder.order if name in v.ladder]
    broken = [
        f"{worse} ({worse_score:.1f}) scored above {better} ({better_score:.1f})"
        for (better, better_score), (worse, worse_score) in zip(scores, scores[1:], strict=False)
        if worse_score > better_score
    ]
    problems = broken + [f"{name} has no graded run" for name in missing]
    shown = " > ".join(f"{name} {score:.1f}" for name, score in scores)
    detail = "; ".join(problems) if problems else shown
    v.checks.append(Check("order", "order", not problems, detail, {"scores": dict(scores)}))


def noise(v: Validation) -> None:
    if v.tier is Tier.ci:
        detail = "not run in the ci tier (the release tier grades the reference again)"
        v.checks.append(Check("noise", "noise", True, detail, skipped=True))
        return
    graded = [r for r in v.references if r.status is Status.graded and r.result]
    tolerance = v.challenge.spec.validation.noise.tolerance
    if not graded:
        detail = "no graded reference run to grade again"
        v.checks.append(Check("noise", "noise", False, detail))
        return
    run = graded[0]
    documents = [status_document(run)]
    for attempt in range(2, v.repeats + 1):
        v.runner.report(f"validating: noise, grading the reference again ({attempt}/{v.repeats})")
        documents.append(status_document(v.runner.grade(run.id)))
    series: dict[str, list[float]] = {"total": [d.score or 0.0 for d in documents]}
    for doc in documents:
        for grader in doc.graders:
            series.setdefault(grader.name, []).append(round(100 * grader.score, 2))
    spreads = {name: round(max(s) - min(s), 2) for name, s in series.items()}
    record_regrading(
        v.runner.settings.data_dir,
        Regrading(
            challenge=v.challenge.id,
            version=v.challenge.spec.version,
            gradings=len(documents),
            measured_at=utcnow().date().isoformat(),
            sd={
                name: round(statistics.stdev(scores) / 100, 4)
                for name, scores in series.items()
                if name != "total"
            },
        ),
    )
    flaky = [name for name, spread in spreads.items() if spread > tolerance]
    detail = (
        f"flaky (spread over {tolerance:g} points): "
        + ", ".join(f"{n} {spreads[n]:g}" for n in flaky)
        if flaky
        else f"largest spread {max(spreads.values()):g} of {tolerance:g} points"
    )
    data = {"run_id": run.id, "repeats": len(documents), "tolerance": tolerance}
    v.checks.append(
        Check("noise", "noise", not flaky, detail, {**data, "scores": series, "spread": spreads})
    )


STEPS: list[Callable[[Validation], None]] = [static, scripted, order, noise]


def validate_challenge(
    runner: Runner,
    challenge: Challenge,
    cheats: Sequence[Cheat],
    repeats: int | None = None,
    jobs: int = 1,
    tier: Tier = Tier.release,
) -> dict[str, Any]:
    """Run every step of ``tier``; returns the verdict document (``ok`` and one entry per
    check). ``jobs`` scripted runs go at once (timing-sensitive graders get noisier with more)."""
    with tempfile.TemporaryDirectory(prefix="prodproven-validate-") as tmp:
        v = Validation(
            runner,
            challenge,
            cheats,
            repeats or challenge.spec.validation.noise.repeats,
            jobs,
            Path(tmp),
            tier,
        )
        for step in STEPS:
            if v.stopped:
                break
            step(v)
    return v.verdict()


def answer_key(material: Material) -> dict[str, Any]:
    """Every hidden JSON file by its relative path: what a leaked answer key would hold."""
    files: dict[str, Any] = {}
    size = 0
    for root in material.hidden:
        for path in sorted(root.rglob("*.json")):
            size += path.stat().st_size
            if path.is_file() and size <= _KEY_LIMIT_BYTES:
                files[path.relative_to(root).as_posix()] = json.loads(path.read_text())
    return {"files": files}


def _banded(
    plan: Planned, run: Run, band: str, ok: Callable[[float], bool], passes: bool | None = None
) -> Check:
    """The check of a run judged on its score against ``band`` and, when ``passes`` is given,
    on whether its verdict is the expected one."""
    score = float(run.score or 0.0)
    doc = status_document(run)
    passed = doc.passed
    data = {"fault": plan.fault, "run_id": run.id, "score": score, "band": band, "passed": passed}
    graded = run.status is Status.graded
    if not graded:
        detail = f"the run ended {run.status.value}: {run.error}"
        return Check(plan.section, plan.label, False, detail, data)
    verdict_ok = passes is None or passed == passes
    missed = [f"{r.name}: {r.detail}" for r in doc.requirements if not r.met]
    verdict = "passed" if passed else "not passed" + (f" ({'; '.join(missed)})" if missed else "")
    if not verdict_ok:
        verdict += f", expected {'passed' if passes else 'not passed'}"
    detail = f"scored {score:.1f}, band {band}; {verdict}"
    return Check(plan.section, plan.label, ok(score) and verdict_ok, detail, data)


def _overlaid(dest: Path, *folders: Path) -> Path:
    """``dest``, made of a copy of each of ``folders`` in turn: a later folder's file replaces
    an earlier one's of the same path."""
    for folder in folders:
        shutil.copytree(folder, dest, dirs_exist_ok=True)
    return dest


def _delayed(solution: Path, dest: Path, delay_s: float) -> Path:
    """A copy of ``solution`` whose responder waits ``delay_s`` before doing the same work."""
    _overlaid(dest, solution)
    script = dest / RESPONDER
    prompt = script.with_name("respond-prompt.sh")
    script.rename(prompt)
    prompt_rel = Path(RESPONDER).with_name(prompt.name).as_posix()
    script.write_text(f"#!/bin/bash\nsleep {delay_s:g}\nexec bash {prompt_rel}\n")
    return dest
