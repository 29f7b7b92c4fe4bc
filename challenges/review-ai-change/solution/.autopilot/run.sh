#!/usr/bin/env bash
# Reference candidate: a scripted owner reviews the assistant's pull request, writes
# /workspace/review.md and commits a fix per defect on ai/change (reviewer.py). A calibration
# submission that extends the reference adds .autopilot/persona.json to change how it reviews.
set -euo pipefail
cd /workspace
python3 .autopilot/reviewer.py /workspace
