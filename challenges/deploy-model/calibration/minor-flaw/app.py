# Calibration submission "minor-flaw" (never shown to candidates). A sound service that a
# practitioner would still ship, with small, realistic imperfections: it keeps the prototype's
# Flask development server (threaded werkzeug, started by the unchanged start.sh) rather than a
# production server, logs every request and every prediction at INFO (werkzeug's access line
# plus its own), and its number check is `isinstance(value, (int, float))`, so JSON `true` and
# `false` slip through as 1 and 0. The model is loaded once, every other malformed input gets a
# JSON 400, and it answers correctly within the SLO. Expected: passes, score >= 85.
"""Churn prediction service (Flask). Loads the model once and validates every request."""

import logging
import math

import joblib
import numpy as np
from flask import Flask, jsonify, request

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
log = logging.getLogger("churn")

MODEL_PATH = "/workspace/model/model.joblib"
N_FEATURES = 10
MAX_ROWS = 1024
VALID_CODES = {8: {0, 1, 2}, 9: {0, 1, 2, 3, 4}}  # plan, region (MODEL_CARD.md)

log.info("loading model from %s", MODEL_PATH)
model = joblib.load(MODEL_PATH)
log.info("model loaded: %s", model)

app = Flask(__name__)


class ValidationError(Exception):
    pass


def validate(payload):
    if not isinstance(payload, dict):
        raise ValidationError("body must be a JSON object")
    if "instances" not in payload:
        raise ValidationError("missing 'instances'")
    instances = payload["instances"]
    if not isinstance(instances, list) or len(instances) == 0:
        raise ValidationError("'instances' must be a non-empty list")
    if len(instances) > MAX_ROWS:
        raise ValidationError(f"too many instances: {len(instances)} (max {MAX_ROWS})")
    for i, row in enumerate(instances):
        if not isinstance(row, list):
            raise ValidationError(f"row {i} is not a list")
        if len(row) != N_FEATURES:
            raise ValidationError(f"row {i} has {len(row)} values, expected {N_FEATURES}")
        for j, value in enumerate(row):
            if not isinstance(value, (int, float)):
                raise ValidationError(f"row {i} feature {j} is not a number: {value!r}")
            if not math.isfinite(value):
                raise ValidationError(f"row {i} feature {j} is not finite: {value}")
            if j in VALID_CODES and value not in VALID_CODES[j]:
                raise ValidationError(f"row {i} feature {j}: invalid code {value}")
    return np.array(instances, dtype=float)


@app.errorhandler(404)
def not_found(e):
    return jsonify(error="not found"), 404


@app.errorhandler(405)
def method_not_allowed(e):
    return jsonify(error="method not allowed"), 405


@app.errorhandler(Exception)
def unexpected(e):
    log.exception("unexpected error")
    return jsonify(error="internal error"), 500


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict")
def predict():
    payload = request.get_json(silent=True)
    if payload is None:
        return jsonify(error="body is not valid JSON"), 400
    try:
        X = validate(payload)
    except ValidationError as e:
        log.info("rejected request: %s", e)
        return jsonify(error=str(e)), 400
    predictions = model.predict(X).astype(int).tolist()
    log.info("predicted %d rows: %s", len(predictions), predictions[:20])
    return jsonify(predictions=predictions)
