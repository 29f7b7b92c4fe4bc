# Calibration submission "slo-breach" (never shown to candidates). A sound, correct service:
# every input is validated and refused with a JSON 400, and the answers are the model's own.
# The candidate fixed the prototype's joblib.load on every request, but kept the idea behind
# it ("a new model.joblib goes live without a restart") as a time-to-live cache: every half
# second, the request that finds the cache expired re-reads the 72 MB file, hashes it to log
# the model's version, unpickles it again and forces a garbage collection, all in the request
# path, while the event loop holds every other request. Most requests take a few ms, but twice
# a second a stall of about 280 ms queues the requests behind it, which puts p95 latency at
# about 2.5 times the 100 ms SLO at 25 requests/second (246 ms measured, steady across
# windows). Expected: does not pass.
"""Churn prediction service (FastAPI): validated input; the model is refreshed from disk every
half second, so a new model.joblib is picked up without a restart."""

import functools
import gc
import hashlib
import io
import json
import logging
import math
import time

import joblib
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MODEL_PATH = "/workspace/model/model.joblib"
N_FEATURES = 10
MAX_ROWS = 1024
CODES = {8: {0, 1, 2}, 9: {0, 1, 2, 3, 4}}  # plan, region: MODEL_CARD.md

log = logging.getLogger("churn")
app = FastAPI(title="churn")


MODEL_TTL_S = 0.5  # a new model.joblib goes live within half a second, no restart needed


@functools.lru_cache(maxsize=1)
def load_model(generation: int):
    """The model, cached per TTL generation: each generation reads the file again and logs
    which model (by MD5) is being served."""
    with open(MODEL_PATH, "rb") as fh:
        raw = fh.read()
    digest = hashlib.md5(raw).hexdigest()
    model = joblib.load(io.BytesIO(raw))
    gc.collect()  # frequent reloads: free the previous model now, keep memory flat
    log.info("serving model %s (md5 %s)", MODEL_PATH, digest)
    return model


def current_model():
    return load_model(int(time.monotonic() // MODEL_TTL_S))


current_model()


class InvalidInput(Exception):
    pass


def _no_constants(name):
    raise InvalidInput(f"{name} is not allowed")


def parse(body: bytes) -> np.ndarray:
    try:
        payload = json.loads(body, parse_constant=_no_constants)
    except InvalidInput:
        raise
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidInput("body must be a JSON object")
    instances = payload.get("instances")
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("'instances' must be a non-empty list of rows")
    if len(instances) > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} instances per request, got {len(instances)}")
    for i, row in enumerate(instances):
        if not isinstance(row, list) or len(row) != N_FEATURES:
            raise InvalidInput(f"row {i} must be a list of {N_FEATURES} numbers")
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInput(f"row {i}, feature {j}: {value!r} is not a number")
            if not math.isfinite(value):
                raise InvalidInput(f"row {i}, feature {j}: {value!r} is not finite")
            if j in CODES and value not in CODES[j]:
                raise InvalidInput(f"row {i}, feature {j}: {value!r} is not a valid code")
    return np.array(instances, dtype=float)


@app.exception_handler(404)
async def not_found(request, exc):
    return JSONResponse({"error": "not found"}, status_code=404)


@app.exception_handler(405)
async def not_allowed(request, exc):
    return JSONResponse({"error": "method not allowed"}, status_code=405)


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.post("/predict")
async def predict(request: Request):
    try:
        X = parse(await request.body())
    except InvalidInput as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    model = current_model()
    return {"predictions": model.predict(X).astype(int).tolist()}
