"""Marks the run's MLflow as seeded, so tests can see that setup ran before the workspace."""

import mlflow

mlflow.set_experiment("seeded")
