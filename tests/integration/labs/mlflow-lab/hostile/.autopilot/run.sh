#!/bin/bash
set -euo pipefail
python /workspace/evil.py "$(cat /workspace/target)"
