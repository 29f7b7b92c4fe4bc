"""Registers the built-in graders through the same hook third-party graders use."""

from __future__ import annotations

from graders.base import Grader
from graders.correctness import CorrectnessGrader
from graders.incident import IncidentGrader
from graders.load import LoadGrader
from graders.mlflow_model import MlflowModelGrader
from graders.notebook import NotebookGrader
from graders.postmortem import PostmortemGrader
from graders.pytest_grader import PytestGrader
from runner.hookspecs import hookimpl


@hookimpl
def register_graders() -> list[type[Grader]]:  # type: ignore[type-arg]
    return [
        CorrectnessGrader,
        LoadGrader,
        PytestGrader,
        MlflowModelGrader,
        NotebookGrader,
        IncidentGrader,
        PostmortemGrader,
    ]
