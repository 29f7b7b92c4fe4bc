"""Grading: the pipeline, evaluation in a fresh pod, scoring, the typed result."""
