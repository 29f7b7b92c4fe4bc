#!/bin/bash
set -euo pipefail
python /workspace/train.py
