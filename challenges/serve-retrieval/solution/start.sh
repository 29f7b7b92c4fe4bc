#!/usr/bin/env bash
# One uvicorn worker on the one CPU: the model and the index are built once, at import.
cd /workspace
exec uvicorn app:app --host 0.0.0.0 --port 8000 --workers 1 --no-access-log --log-level warning
