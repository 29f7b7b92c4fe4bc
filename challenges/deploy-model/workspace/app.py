"""First version of the churn prediction service. It works on the happy path."""

import joblib
import numpy as np
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict")
def predict():
    model = joblib.load("/workspace/model/model.joblib")
    instances = request.get_json()["instances"]
    predictions = model.predict(np.array(instances))
    return jsonify(predictions=predictions.tolist())
