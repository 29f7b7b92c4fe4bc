# Calibration submission "fragile" (never shown to candidates). The candidate fixed the speed
# and nothing else: the model is loaded once at import and served by uvicorn, so valid input
# gets the right answer well within the SLO, but there is no input validation at all. The
# handler parses the body and hands `instances` straight to numpy and the model, so malformed
# input raises inside it and the server answers 500 (a plain-text "Internal Server Error", not
# a JSON 4xx), and what numpy and scikit-learn do accept (invalid category codes, nulls, NaN,
# more than 1024 rows) is answered 200: 14 of the 20 hidden robustness tests fail.
# Expected: does not pass.
"""Churn prediction service: FastAPI + uvicorn, model loaded once at startup."""

import joblib
import numpy as np
from fastapi import FastAPI, Request

model = joblib.load("/workspace/model/model.joblib")

app = FastAPI(title="churn")


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict")
async def predict(request: Request):
    body = await request.json()
    instances = np.array(body["instances"])
    predictions = model.predict(instances)
    return {"predictions": predictions.tolist()}
