"""Hidden tests of the feature itself: batch scoring, the feature cache and the faster
retraining work. They fail on main (the feature is not there: a revert is not a fix), and some
protect code that looks wrong but is right."""

import json
import threading
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
from churn import data, features, metrics, model
from service import app, batch, scoring
from service.cache import FeatureCache


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = app.serve(0, scoring.Scorer.load())
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def post(url: str, payload: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_batch_matches_single(records: list[dict[str, object]]) -> None:
    scorer = scoring.Scorer.load()
    sample = records[:40]
    expected = [scorer.score(r) for r in sample]
    assert batch.score_batch(scorer, sample) == pytest.approx(expected)
    assert np.allclose(features.batch_matrix(sample), features.matrix(sample))


def test_batch_endpoint_scores_in_order(server: str, records: list[dict[str, object]]) -> None:
    status, body = post(f"{server}/score/batch", {"records": records[:12], "model": "v3"})
    single = scoring.Scorer.load()
    assert status == 200
    assert body["churn_probabilities"] == pytest.approx([single.score(r) for r in records[:12]])


def test_an_oversized_batch_is_refused() -> None:
    with pytest.raises(ValueError):
        batch.check_size([{}] * (batch.MAX_BATCH + 1))


def test_the_cache_serves_an_unchanged_record(records: list[dict[str, object]]) -> None:
    scorer = scoring.Scorer.load()
    first = scorer.score(records[0])
    assert scorer.score(dict(records[0])) == pytest.approx(first)
    assert scorer.cache.stats()["hits"] >= 1


def test_invalidate_is_idempotent() -> None:
    cache = FeatureCache(capacity=10)
    cache.invalidate("nobody")
    cache.put("c1", "f", [1.0])
    cache.invalidate("c1")
    cache.invalidate("c1")
    assert cache.get("c1", "f") is None


def test_fingerprint_follows_content_not_key_order(records: list[dict[str, object]]) -> None:
    record = records[0]
    reordered = dict(reversed(list(record.items())))
    assert scoring.fingerprint(record) == scoring.fingerprint(reordered)
    assert scoring.fingerprint(record) != scoring.fingerprint({**record, "idle_days": 99.0})


def test_a_registered_version_loads() -> None:
    assert scoring.model_path("v3").is_file()
    assert (
        0.0
        < scoring.load_version("v3").score(
            {
                "tenure_months": 3,
                "monthly_charges": 50.0,
                "support_tickets": 1,
                "idle_days": 2,
                "plan": "basic",
                "region": "r01",
                "customer_id": "x",
            }
        )
        < 1.0
    )


def test_early_stopping_keeps_a_good_model(records: list[dict[str, object]]) -> None:
    x = features.matrix(records)
    y = np.array([r["churned"] for r in records], dtype=float)
    fitted = model.fit(x, y, epochs=300, tolerance=1e-3)
    assert metrics.roc_auc(y, fitted.predict_proba(x)) > 0.7


def test_convergence_looks_at_every_recent_epoch() -> None:
    assert model.converged([1.0, 0.5, 0.4999, 0.4998, 0.4997], 1e-3)
    assert not model.converged([1.0, 0.9999, 0.9998, 0.9997, 0.5], 1e-3)


def test_a_missing_number_is_filled_from_the_previous_month() -> None:
    base = {
        "tenure_months": 5.0,
        "support_tickets": 0.0,
        "idle_days": 1.0,
        "plan": "basic",
        "region": "r01",
        "churned": 0,
    }
    rows = [
        {**base, "customer_id": "a", "month": 202403, "monthly_charges": 70.0},
        {**base, "customer_id": "a", "month": 202402, "monthly_charges": None},
        {**base, "customer_id": "a", "month": 202401, "monthly_charges": 50.0},
        {**base, "customer_id": "b", "month": 202401, "monthly_charges": None},
        {**base, "customer_id": "b", "month": 202402, "monthly_charges": 60.0},
    ]
    table = data.from_records(rows)
    filled = {(r["customer_id"], r["month"]): r["monthly_charges"] for r in table.records}
    assert filled == {
        ("a", 202401): 50.0,
        ("a", 202402): 50.0,
        ("a", 202403): 70.0,
        ("b", 202402): 60.0,
    }
