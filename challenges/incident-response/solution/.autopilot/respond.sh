#!/usr/bin/env bash
# Reference responder: the runner starts it in /workspace as the candidate right after a fault
# is injected. Detects, mitigates, verifies, writes postmortem.md; see respond.py.
set -euo pipefail
cd /workspace
exec python .autopilot/respond.py
