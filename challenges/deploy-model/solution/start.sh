#!/usr/bin/env bash
# One uvicorn worker: the service has one CPU, and the model is loaded once at import.
cd /workspace
exec uvicorn app:app --host 0.0.0.0 --port 8000 --workers 1 --no-access-log --log-level warning
