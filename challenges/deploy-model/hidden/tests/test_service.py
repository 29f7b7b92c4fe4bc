"""Hidden robustness tests for deploy-model, run next to the candidate's service at grading
time. They only speak HTTP to the service (SERVICE_URL), never import candidate code."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

URL = os.environ.get("SERVICE_URL", "http://127.0.0.1:8000")
ROW = [24.0, 33.5, 1.0, 6.2, 22.0, 0.1, 3.0, 2.0, 1, 3]
OTHER = [2.0, 120.0, 6.0, 0.5, 4.0, 0.8, 90.0, 1.0, 0, 4]
TIMEOUT = 10


def post(data=None, json=None, headers=None):
    return requests.post(f"{URL}/predict", data=data, json=json, headers=headers, timeout=TIMEOUT)


def assert_client_error(response):
    assert 400 <= response.status_code < 500, f"expected 4xx, got {response.status_code}"
    assert isinstance(response.json(), dict), "a 4xx answer must be a JSON object"


def test_health_answers_200():
    assert requests.get(f"{URL}/health", timeout=TIMEOUT).status_code == 200


def test_single_instance_gets_one_binary_prediction():
    response = post(json={"instances": [ROW]})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 1 and predictions[0] in (0, 1)


def test_predictions_keep_the_order_of_instances():
    alone = [post(json={"instances": [r]}).json()["predictions"][0] for r in (ROW, OTHER)]
    together = post(json={"instances": [ROW, OTHER, ROW, OTHER]}).json()["predictions"]
    assert together == alone * 2


def test_batch_of_256_is_answered_in_full():
    response = post(json={"instances": [ROW, OTHER] * 128})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 256 and set(predictions) <= {0, 1}


@pytest.mark.parametrize(
    "body",
    [
        b"this is not json",
        b"[1, 2, 3]",
        b'{"rows": [[1,2,3,4,5,6,7,8,0,0]]}',
        b'{"instances": []}',
        b'{"instances": "1,2,3"}',
        b'{"instances": [1, 2, 3, 4, 5, 6, 7, 8, 0, 0]}',
        b'{"instances": [[1, 2, 3, 4, 5, 6, 7, 8, 0]]}',
        b'{"instances": [[1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 5]]}',
        b'{"instances": [[1, "two", 3, 4, 5, 6, 7, 8, 0, 0]]}',
        b'{"instances": [[1, null, 3, 4, 5, 6, 7, 8, 0, 0]]}',
        b'{"instances": [[1, NaN, 3, 4, 5, 6, 7, 8, 0, 0]]}',
        b'{"instances": [[1, Infinity, 3, 4, 5, 6, 7, 8, 0, 0]]}',
        b'{"instances": [[1, 2, 3, 4, 5, 6, 7, 8, 7, 0]]}',
    ],
    ids=["not-json", "not-object", "no-instances", "empty", "string", "flat-row", "short-row",
         "long-row", "string-value", "null-value", "nan", "infinity", "invalid-code"],
)
def test_malformed_input_gets_a_json_4xx(body):
    assert_client_error(post(data=body, headers={"Content-Type": "application/json"}))


def test_more_than_1024_rows_is_refused():
    assert_client_error(post(json={"instances": [ROW] * 1025}))


def test_service_keeps_serving_after_malformed_input():
    for body in (b"{", b'{"instances": [[null]]}', b"\xff\xfe"):
        post(data=body, headers={"Content-Type": "application/json"})
    assert requests.get(f"{URL}/health", timeout=TIMEOUT).status_code == 200
    assert post(json={"instances": [ROW]}).status_code == 200


def test_concurrent_requests_all_get_consistent_answers():
    expected = post(json={"instances": [ROW, OTHER]}).json()["predictions"]

    def call(_):
        response = post(json={"instances": [ROW, OTHER]})
        return response.status_code, response.json().get("predictions")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(call, range(32)))
    assert all(status == 200 and preds == expected for status, preds in results)
