"""The mlflow_model grader's own handling of hidden data and registry answers."""

from __future__ import annotations

import pytest

from prodproven.graders.base import GraderError
from prodproven.graders.mlflow_model import _metric, _split


def test_split_removes_the_label_column_and_keeps_the_rest_verbatim() -> None:
    labels, features = _split("a,churned,b\n1.50,1,x\n2,0,y\n", "churned")
    assert labels == [1, 0]
    assert features == b"a,b\n1.50,x\n2,y\n"


def test_split_names_a_missing_label_column() -> None:
    with pytest.raises(GraderError, match="no column 'churned'"):
        _split("a,b\n1,2\n", "churned")


def test_metric_is_read_from_the_run() -> None:
    run = {"data": {"metrics": [{"key": "val_auc", "value": 0.81}]}}
    assert _metric(run, "val_auc") == 0.81


def test_a_missing_or_malformed_metric_is_none() -> None:
    assert _metric(None, "val_auc") is None
    assert _metric({"data": {"metrics": [{"key": "val_auc", "value": "x"}]}}, "val_auc") is None
