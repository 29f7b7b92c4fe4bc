"""Registers the built-in graders through the same hook third-party graders use."""

from __future__ import annotations

from prodproven.graders.base import Grader
from prodproven.graders.capacity import CapacityGrader
from prodproven.graders.claims import ClaimsGrader
from prodproven.graders.correctness import CorrectnessGrader
from prodproven.graders.cost import CostGrader
from prodproven.graders.decision_record import DecisionRecordGrader
from prodproven.graders.fixes import FixesGrader
from prodproven.graders.freshness import FreshnessGrader
from prodproven.graders.incident import IncidentGrader
from prodproven.graders.load import LoadGrader
from prodproven.graders.mlflow_model import MlflowModelGrader
from prodproven.graders.notebook import NotebookGrader
from prodproven.graders.postmortem import PostmortemGrader
from prodproven.graders.pytest_grader import PytestGrader
from prodproven.graders.retrieval import RelevanceGrader
from prodproven.graders.review import ReviewGrader
from prodproven.graders.search_load import SearchLoadGrader
from prodproven.graders.served_auc import ServedAucGrader
from prodproven.sandbox.plugin import hookimpl


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
        CapacityGrader,
        ServedAucGrader,
        CostGrader,
        DecisionRecordGrader,
        ReviewGrader,
        FixesGrader,
        ClaimsGrader,
        RelevanceGrader,
        FreshnessGrader,
        SearchLoadGrader,
    ]
