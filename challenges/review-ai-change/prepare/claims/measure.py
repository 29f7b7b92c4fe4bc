"""Measure one checkout of the churn repository, the same way for every branch.

    python -I measure.py CHECKOUT DATA_DIR OUT.json

writes {"p95_ms", "auc", "tests_passed"}: the 95th percentile of in-process single-request
scoring time over DATA_DIR/requests.json, as the CPU time the scoring thread spent (each
request timed on a fresh scorer in each of several rounds, its fastest round kept): CPU time,
not wall time, so that other work on the machine, which stretches wall time by however long
this process waits for a core, does not decide a claim about the code. The rounds are spread
over more than a second, with the garbage collector off while they time (as timeit does), so
that a burst of contention that slows even CPU time (a host stealing this core, caches
flushed by a neighbour) slows only some rounds of a request, not its fastest. Also the holdout AUC
of the checkout's own training code fitted on DATA_DIR/train.csv and scored on
DATA_DIR/holdout.csv (the AUC computed here, never by the checkout), and whether the
checkout's visible tests pass.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROUNDS = 15
PAUSE_S = 0.08
TESTS_TIMEOUT_S = 120


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Rank AUC, ties counted half."""
    ordered = np.sort(scores)
    ranks = (
        np.searchsorted(ordered, scores, "left") + np.searchsorted(ordered, scores, "right") + 1
    ) / 2
    positives = labels.sum()
    negatives = len(labels) - positives
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def p95_ms(requests: list[dict[str, object]]) -> float:
    from service.scoring import Scorer

    fastest = np.full(len(requests), np.inf)
    for _ in range(ROUNDS):
        scorer = Scorer.load()
        gc.disable()
        try:
            for i, request in enumerate(requests):
                start = time.thread_time()
                scorer.score(request)
                fastest[i] = min(fastest[i], time.thread_time() - start)
        finally:
            gc.enable()
        time.sleep(PAUSE_S)
    return float(np.percentile(fastest, 95) * 1000)


def holdout_auc(data_dir: Path) -> float:
    from churn import data, features, train

    train_table = data.load_csv(data_dir / "train.csv")
    holdout = data.load_csv(data_dir / "holdout.csv")
    fitted = train.train(features.matrix(train_table.records), train_table.labels)
    scores = np.asarray(fitted.predict_proba(features.matrix(holdout.records)), dtype=float)
    return auc(np.asarray(holdout.labels, dtype=float), scores)


def tests_pass(checkout: Path) -> bool:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            cwd=checkout,
            capture_output=True,
            timeout=TESTS_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


def main() -> None:
    checkout, data_dir, out = (Path(arg).resolve() for arg in sys.argv[1:4])
    sys.path.insert(0, str(checkout))
    requests = json.loads((data_dir / "requests.json").read_text())
    result = {
        "p95_ms": p95_ms(requests),
        "auc": holdout_auc(data_dir),
        "tests_passed": tests_pass(checkout),
    }
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
