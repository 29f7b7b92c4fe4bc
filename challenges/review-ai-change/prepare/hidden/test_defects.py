"""Hidden tests of the seeded defects: each fails on its defect and passes for any reasonable
fix of it."""

import gc
import os
import pickle
import re
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from churn import data, features, model, train
from service import batch, scoring
from service.cache import FeatureCache

REPO = Path(os.environ.get("REPO", os.getcwd()))
RACE_SECONDS = 5.0


def reference_auc(y: np.ndarray, p: np.ndarray) -> float:
    positives, negatives = p[y == 1], p[y == 0]
    wins = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    return float((wins + ties / 2) / (len(positives) * len(negatives)))


def labels(records: list[dict[str, object]]) -> np.ndarray:
    return np.array([r["churned"] for r in records], dtype=float)


def race_round(errors: list[BaseException]) -> int:
    """Two readers and two writers of a one-entry cache at once; returns its final size."""
    cache = FeatureCache(capacity=1)
    keys = ["a", "b"] * 10000
    start = threading.Barrier(4)

    def hammer(write: bool) -> None:
        start.wait()
        for key in keys:
            try:
                if write:
                    cache.put(key, "f", [1.0])
                else:
                    cache.get(key, "f")
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in (False, False, True, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(cache)


def test_cache_is_thread_safe() -> None:
    """Race rounds, switching threads as often as the interpreter allows, for up to
    RACE_SECONDS: any error or overflow is a race."""
    errors: list[BaseException] = []
    deadline = time.monotonic() + RACE_SECONDS
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        while not errors and time.monotonic() < deadline:
            assert race_round(errors) <= 1
    finally:
        sys.setswitchinterval(interval)
    assert not errors, repr(errors[0])


def test_cache_stays_within_its_capacity() -> None:
    cache = FeatureCache(capacity=100)
    for i in range(1000):
        cache.put(f"c{i}", "f", [float(i)])
    assert len(cache) <= 100
    assert cache.get("c999", "f") == [999.0]


def test_a_changed_record_is_not_served_stale_features(records: list[dict[str, object]]) -> None:
    scorer = scoring.Scorer.load()
    first = records[0]
    changed = {**first, "support_tickets": 9.0, "idle_days": 70.0, "tenure_months": 2.0}
    scorer.score(first)
    assert scorer.score(changed) == pytest.approx(scoring.Scorer.load().score(changed))


def test_batch_features_match_single_features(records: list[dict[str, object]]) -> None:
    long_idle = [{**r, "idle_days": 95.0 + 5 * i} for i, r in enumerate(records[:20])]
    sample = records[:20] + long_idle
    assert np.allclose(features.batch_matrix(sample), features.matrix(sample))


def test_a_bad_record_in_a_batch_is_not_scored_silently(records: list[dict[str, object]]) -> None:
    sample = [*records[:5], {**records[5], "plan": "gold"}, *records[6:10]]
    try:
        out = batch.score_batch(scoring.Scorer.load(), sample)
    except Exception:
        return
    assert not isinstance(out[5], float), "the bad record got a score"
    assert out[0] == pytest.approx(scoring.Scorer.load().score(records[0]))


def test_a_nan_auc_is_never_promoted() -> None:
    assert not train.should_promote(float("nan"), 0.8)
    assert train.should_promote(0.85, 0.8)


def test_every_record_of_a_batch_is_scored(records: list[dict[str, object]]) -> None:
    scorer = scoring.Scorer.load()
    for size in (1, 7, 8, 9, 17, 24, 30):
        sample = records[:size]
        out = batch.score_batch(scorer, sample, chunk_size=8)
        assert out == pytest.approx([scorer.score(r) for r in sample]), size


def test_a_batch_of_exactly_the_limit_is_accepted() -> None:
    batch.check_size([{}] * batch.MAX_BATCH)
    with pytest.raises(ValueError):
        batch.check_size([{}] * (batch.MAX_BATCH + 1))


def test_evaluation_auc_ranks_probabilities(records: list[dict[str, object]]) -> None:
    x, y = features.matrix(records), labels(records)
    fitted = model.fit(x, y, epochs=50)
    expected = reference_auc(y, fitted.predict_proba(x))
    assert train.evaluate(fitted, x, y)["auc"] == pytest.approx(expected, abs=1e-9)


def test_the_holdout_does_not_influence_training(records: list[dict[str, object]]) -> None:
    table = data.from_records([dict(r) for r in records])
    _, holdout = data.split_by_time(table, train.HOLDOUT_FRACTION)
    held = {r["customer_id"] for r in holdout.records}
    changed = [
        {**r, "monthly_charges": 500.0, "tenure_months": 99.0, "churned": 1 - int(r["churned"])}  # type: ignore[call-overload]
        if r["customer_id"] in held
        else dict(r)
        for r in records
    ]
    one = train.run(data.from_records([dict(r) for r in records]), 0.5).model
    two = train.run(data.from_records(changed), 0.5).model
    assert np.allclose(one.mean, two.mean) and np.allclose(one.scale, two.scale)
    assert np.allclose(one.weights, two.weights) and one.bias == pytest.approx(two.bias)


def test_a_model_version_cannot_leave_the_registry(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    planted.mkdir()
    payload = model.load(scoring.DEFAULT_MODEL).to_dict()
    (planted / "model.pkl").write_bytes(pickle.dumps(payload))
    for version in (os.path.relpath(planted, scoring.MODELS_DIR), str(planted)):
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do
            scoring.load_version(version)


def test_loading_a_model_version_closes_its_file() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scoring.load_version("v3")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_every_requirement_is_pinned() -> None:
    text = (REPO / "requirements.txt").read_text()
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    requirements = [line for line in lines if line]
    pinned = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-\[\],]*==[0-9][0-9A-Za-z.+!\-]*")
    assert requirements and all(pinned.fullmatch(line) for line in requirements), requirements
    assert any(line.lower().startswith("numpy==") for line in requirements)
