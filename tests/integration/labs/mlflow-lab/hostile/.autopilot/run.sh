#!/bin/bash
set -euo pipefail
# shellcheck disable=SC2046  # three arguments: marker path, host address, port
python /workspace/evil.py $(cat /workspace/target)
