#!/usr/bin/env bash
# Reference candidate: execute the finished notebook in place, keeping its outputs, as a
# candidate would before submitting. Runs as the candidate in /workspace with MLflow up.
set -euo pipefail
cd /workspace
jupyter execute --inplace --timeout=300 --kernel_name=python3 drift_analysis.ipynb
python - <<'PY'
import nbformat

nb = nbformat.read("drift_analysis.ipynb", as_version=4)
for cell in nb.cells:
    if "drifted-features" in cell.metadata.get("tags", []):
        print("drifted-features:", "".join(o.get("text", "") for o in cell.outputs).strip())
PY
