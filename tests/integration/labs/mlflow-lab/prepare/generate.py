"""Two informative features; the baseline only uses the first one."""

import json
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

out = Path(sys.argv[1])
rng = np.random.default_rng(7)


def frame(n: int) -> pd.DataFrame:
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] + x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return pd.DataFrame({"a": x[:, 0].round(4), "b": x[:, 1].round(4), "y": y})


for part in ("workspace", "hidden"):
    (out / part).mkdir(parents=True, exist_ok=True)
train, test = frame(400), frame(300)
train.to_csv(out / "workspace" / "train.csv", index=False)
test.to_csv(out / "hidden" / "test.csv", index=False)
pick_a = ColumnTransformer([("a", "passthrough", ["a"])])
baseline = Pipeline([("pick", pick_a), ("lr", LogisticRegression())])
joblib.dump(baseline.fit(train[["a", "b"]], train["y"]), out / "hidden" / "baseline.joblib")
(out / "hidden" / "truth.json").write_text(json.dumps(["b"]))
