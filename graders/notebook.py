"""The ``notebook`` grader: the submitted notebook is re-executed top to bottom in a fresh kernel.

Saved outputs are claims; only re-executed outputs count. The kernel runs in a tester container
built from the archived workspace (with the run's services, restored from submit); this process
drives it over ports published on 127.0.0.1 (see graders/kernel.py). Tagged cells are checked
against expectations from the hidden material, and a tagged cell whose saved output differs
from what its code now produces is an integrity finding.
"""

from __future__ import annotations

import ast
import difflib
import json
from typing import Any, Literal

import nbformat
from pydantic import Field

from prodproven.graders.base import (
    HIDDEN_FILE,
    EvaluationEnvironment,
    Finding,
    Grader,
    GraderError,
    GradeResult,
    Params,
)
from prodproven.graders.kernel import CellRun, Execution, KernelPorts, execute_cells
from prodproven.graders.metrics import set_f1

FIRST_KERNEL_PORT = 49100
MAX_VALUE_TEXT = 100_000


class Expectation(Params):
    tag: str = Field(description="cell tag whose output is checked")
    compare: Literal["set_f1", "equal"] = Field(
        "set_f1", description="set_f1: F1 of a list against the truth list; equal: 1 or 0"
    )
    truth: str = Field(
        description="hidden JSON file holding the expected value", json_schema_extra=HIDDEN_FILE
    )
    weight: float = Field(1.0, gt=0)


class NotebookParams(Params):
    path: str = Field(description="notebook path inside the workspace")
    expectations: list[Expectation] = Field(min_length=1)
    cell_timeout_s: float = Field(120, gt=0, description="per code cell")
    timeout_s: float = Field(600, gt=0, description="for the whole notebook")
    startup_timeout_s: float = Field(60, gt=0, description="for the kernel to answer")
    execution_weight: float = Field(
        0.2,
        ge=0,
        le=1,
        description="share of the expectations' score that depends on every code cell "
        "running without error",
    )
    forged_output_penalty: float = Field(
        0.5, ge=0, le=1, description="share of the score lost when a saved output is not reproduced"
    )


class NotebookGrader(Grader[NotebookParams]):
    kind = "notebook"
    description = (
        "Re-executes the notebook in a fresh sandboxed kernel, checks tagged cells against "
        "hidden expectations and flags saved outputs that do not reproduce."
    )
    Params = NotebookParams

    def grade(self, env: EvaluationEnvironment, params: NotebookParams) -> GradeResult:
        raw = env.workspace_file(params.path)
        if raw is None:
            return _zero(f"{params.path} is not in the submitted workspace", "missing")
        try:
            nb = nbformat.reads(raw.decode("utf-8", "replace"), as_version=4)
            nbformat.validate(nb)
        except Exception as exc:  # nbformat raises JSON, schema and version errors alike
            return _zero(f"{params.path} is not a valid notebook: {_first_line(exc)}", "invalid")

        code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        execution = self._execute(env, params, code)
        runs = execution.cells
        by_index = {run.index: run for run in runs}
        for i, cell in enumerate(nb.cells):
            if i in by_index:
                cell.outputs = by_index[i].outputs
        env.save_artifact("executed.ipynb", nbformat.writes(nb).encode())

        saved_nb = nbformat.reads(raw.decode("utf-8", "replace"), as_version=4)
        checks = [_check(env, e, saved_nb, nb, by_index) for e in params.expectations]
        findings = [c.pop("finding") for c in checks if c.get("finding")]
        if findings:
            diffs = "\n".join(str(f.evidence.get("diff", "")) for f in findings)
            env.save_artifact("output-diff.txt", diffs.encode())

        weights = [e.weight for e in params.expectations]
        expected = sum(c["score"] * w for c, w in zip(checks, weights, strict=True)) / sum(weights)
        executed = sum(run.status == "ok" for run in runs) / len(runs) if runs else 0.0
        # Running cleanly is worth something only for a notebook that computed the right
        # answers: a notebook that runs but finds nothing scores 0.
        score = expected * ((1 - params.execution_weight) + params.execution_weight * executed)
        if findings:
            score *= 1 - params.forged_output_penalty
        errors = sum(run.status != "ok" for run in runs)
        return GradeResult(
            score=round(score, 4),
            passed=expected >= 0.999 and not findings,
            summary=(
                f"re-executed {len(runs)} code cells ({errors} not ok); "
                + "; ".join(f"{c['tag']}: {c['score']:.2f}" for c in checks)
                + ("; saved output not reproduced" if findings else "")
            ),
            evidence={
                "cells": [_cell_evidence(run, nb.cells[run.index]) for run in runs],
                "expectations": checks,
                "executed_ok": round(executed, 4),
                "kernel_startup_s": execution.startup_s,
                "expectation_score": round(expected, 4),
            },
            findings=findings,
        )

    def _execute(
        self, env: EvaluationEnvironment, params: NotebookParams, code: list[tuple[int, str]]
    ) -> Execution:
        kernel = KernelPorts.starting_at(FIRST_KERNEL_PORT)
        files = {"kernel.json": json.dumps(kernel.connection_file()).encode()}
        # -I: a workspace file named like the launcher or its imports cannot replace the
        # kernel; the notebook's own imports still see the working directory, as in Jupyter.
        cmd = [
            "python",
            "-I",
            "-m",
            "ipykernel_launcher",
            "-f",
            "/grading/kernel.json",
            "--IPKernelApp.exec_lines=import sys; sys.path.insert(0, '')",
        ]
        ports = list(kernel.ports.values())
        with env.serve_tester(
            files, cmd, ports=ports, ready_timeout=params.startup_timeout_s
        ) as served:
            try:
                return execute_cells(
                    kernel,
                    served.addresses,
                    code,
                    cell_timeout_s=params.cell_timeout_s,
                    total_timeout_s=params.timeout_s,
                    startup_timeout_s=params.startup_timeout_s,
                    alive=lambda: served.state() == "running",
                )
            except GraderError as exc:
                raise GraderError(f"{exc}; kernel output:\n{served.logs()[-1500:]}") from exc


def _check(
    env: EvaluationEnvironment,
    expectation: Expectation,
    saved_nb: Any,
    nb: Any,
    runs: dict[int, CellRun],
) -> dict[str, Any]:
    truth = json.loads(env.hidden_file(expectation.truth).read_text())
    tagged = [i for i, c in enumerate(nb.cells) if expectation.tag in c.metadata.get("tags", [])]
    check: dict[str, Any] = {"tag": expectation.tag, "expected": truth, "score": 0.0}
    if not tagged:
        check["problem"] = f"no cell is tagged {expectation.tag!r}"
        return check
    index = tagged[-1]
    run = runs.get(index)
    produced_text = _text(nb.cells[index].outputs)
    saved_text = _text(saved_nb.cells[index].get("outputs", []))
    produced = _value(produced_text)
    check.update(cell=index, status=run.status if run else "not run", produced=produced)
    if expectation.compare == "set_f1":
        items = produced if isinstance(produced, list) else []
        check["score"] = round(set_f1([str(x) for x in items], [str(x) for x in truth]), 4)
    else:
        check["score"] = float(produced == truth)
    if saved_text.strip() and _value(saved_text) != produced:
        diff = "\n".join(
            difflib.unified_diff(
                saved_text.splitlines(),
                produced_text.splitlines(),
                f"cell {index} saved output",
                f"cell {index} re-executed output",
                lineterm="",
            )
        )
        check["saved"] = _value(saved_text)
        check["finding"] = Finding(
            kind="saved_output_not_reproduced",
            message=(
                f"the saved output of the cell tagged {expectation.tag!r} (cell {index}) is not "
                "what its code produces when the notebook is re-executed"
            ),
            evidence={"cell": index, "saved": saved_text[:2000], "diff": diff[:8000]},
        )
    return check


def _text(outputs: list[Any]) -> str:
    """The text a cell shows: its result (JSON or plain text) if any, else what it printed."""
    for output in reversed(outputs):
        if output.get("output_type") in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "application/json" in data:
                return json.dumps(data["application/json"])
            if "text/plain" in data:
                return str(data["text/plain"])
    return "".join(
        str(o.get("text", ""))
        for o in outputs
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def _value(text: str) -> Any:
    """A cell's output as a value: JSON, else a Python literal (a list's repr), else the text.
    Only the last non-empty line counts, so progress printed before the answer is ignored."""
    text = text[:MAX_VALUE_TEXT]
    lines = [line for line in text.strip().splitlines() if line.strip()]
    candidates = [text.strip(), lines[-1].strip()] if lines else [text.strip()]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            pass
        try:
            return ast.literal_eval(candidate)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            pass
    return text.strip()


def _cell_evidence(run: CellRun, cell: Any) -> dict[str, Any]:
    return {
        "cell": run.index,
        "tags": list(cell.metadata.get("tags", [])),
        "status": run.status,
        "duration_s": run.duration_s,
        "error": run.error,
    }


def _zero(reason: str, kind: str) -> GradeResult:
    return GradeResult(
        score=0.0,
        passed=False,
        summary=reason,
        findings=[Finding(kind=f"notebook_{kind}", message=reason)],
    )


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:300]
