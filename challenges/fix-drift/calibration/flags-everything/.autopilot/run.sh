#!/usr/bin/env bash
# Scripted candidate: run the finished notebook top to bottom in place, keeping its outputs,
# as a candidate does before submitting. Runs as the candidate in /workspace with MLflow up.
set -euo pipefail
cd /workspace
jupyter execute --inplace --timeout=300 --kernel_name=python3 drift_analysis.ipynb
