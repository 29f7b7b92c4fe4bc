#!/usr/bin/env bash
# Starts the search service on 0.0.0.0:8000. It must stay in the foreground.
cd /workspace
exec uvicorn app:app --host 0.0.0.0 --port 8000 --workers 1
