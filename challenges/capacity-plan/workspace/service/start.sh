#!/usr/bin/env bash
# Starts the scoring service in the foreground on 0.0.0.0:$PORT (default 8000), serving the
# model at $MODEL_PATH, with $WORKERS uvicorn worker processes (default 1; each loads its own
# copy of the model).
cd /workspace/service
exec uvicorn app:app --host 0.0.0.0 --port "${PORT:-8000}" --workers "${WORKERS:-1}" \
    --no-access-log --log-level warning
