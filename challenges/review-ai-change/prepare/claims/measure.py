"""Measure the base and the head checkout of the churn repository, the same way and at the
same time.

    python -I measure.py DATA_DIR OUT_DIR BASE_CHECKOUT HEAD_CHECKOUT

writes OUT_DIR/base.json and OUT_DIR/head.json, each {"p95_ms", "auc", "tests_passed"}:

- p95_ms: the 95th percentile of in-process single-request scoring time over
  DATA_DIR/requests.json, as the CPU time the scoring thread spent, each request timed on a
  fresh scorer in each of several rounds and its fastest round kept. CPU time, not wall time,
  so that waiting for a core does not count. The two checkouts are timed in turns (one worker
  process each, a round of one, then a round of the other, the order swapped every round),
  so whatever else slows the machine at a moment (a busy sibling hyperthread, caches flushed
  by a neighbour) slows both alike and their ratio, which decides the claim, stays the
  code's. Measuring one after the other let a minute of contention fall on one branch only.
- auc: the holdout AUC of the checkout's own training code fitted on DATA_DIR/train.csv and
  scored on DATA_DIR/holdout.csv (the AUC computed here, never by the checkout);
- tests_passed: whether the checkout's visible tests pass.
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
PAUSE_S = 0.05
TESTS_TIMEOUT_S = 120
WORKER = "--worker"


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


def worker(checkout: Path, data_dir: Path) -> None:
    """Serve the driver on stdin/stdout: ``round`` times every request once on a fresh scorer
    and answers the CPU times; ``auc`` answers the holdout AUC. Runs in its own process so
    that each checkout's modules are imported from that checkout alone."""
    sys.path.insert(0, str(checkout))
    from churn import data, features, train
    from service.scoring import Scorer

    requests = json.loads((data_dir / "requests.json").read_text())
    for command in sys.stdin:
        if command.strip() == "round":
            scorer = Scorer.load()
            times = []
            gc.disable()
            try:
                for request in requests:
                    start = time.thread_time()
                    scorer.score(request)
                    times.append(time.thread_time() - start)
            finally:
                gc.enable()
            answer: object = times
        else:
            train_table = data.load_csv(data_dir / "train.csv")
            holdout = data.load_csv(data_dir / "holdout.csv")
            fitted = train.train(features.matrix(train_table.records), train_table.labels)
            scores = fitted.predict_proba(features.matrix(holdout.records))
            answer = auc(np.asarray(holdout.labels, float), np.asarray(scores, float))
        print(json.dumps(answer), flush=True)


class Worker:
    """One checkout's worker process."""

    def __init__(self, checkout: Path, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", __file__, WORKER, str(checkout), str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str) -> object:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the worker for {self.proc.args[3]} exited ({self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


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
    data_dir, out_dir, base, head = (Path(arg).resolve() for arg in sys.argv[1:5])
    checkouts = {"base": base, "head": head}
    workers = {name: Worker(checkout, data_dir) for name, checkout in checkouts.items()}
    try:
        fastest: dict[str, np.ndarray] = {}
        for turn in range(ROUNDS):
            for name in sorted(workers, reverse=bool(turn % 2)):
                times = np.asarray(workers[name].ask("round"), float)
                fastest[name] = np.minimum(fastest.get(name, times), times)
            time.sleep(PAUSE_S)
        aucs = {name: workers[name].ask("auc") for name in workers}
    finally:
        for each in workers.values():
            each.close()
    for name, checkout in checkouts.items():
        result = {
            "p95_ms": float(np.percentile(fastest[name], 95) * 1000),
            "auc": aucs[name],
            "tests_passed": tests_pass(checkout),
        }
        (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == WORKER:
        worker(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
