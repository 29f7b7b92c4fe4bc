"""Hidden robustness tests for serve-retrieval, run next to the candidate's service at grading
time. They only speak HTTP to the service (SERVICE_URL), never import candidate code; the
corpus they read is the workspace's own (titles to search for). They check the contract, not
relevance: the relevance grader and the load's spot checks judge what comes back."""

import json
import os
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import pytest
import requests

URL = os.environ.get("SERVICE_URL", "http://127.0.0.1:8000")
TIMEOUT = 10
with open("/workspace/corpus/docs.jsonl") as corpus:
    DOCS = [json.loads(line) for line in islice(corpus, 50)]
TITLE = DOCS[0]["title"]


def search(body=None, data=None, headers=None):
    return requests.post(f"{URL}/search", json=body, data=data, headers=headers, timeout=TIMEOUT)


def add(body=None, data=None):
    return requests.post(f"{URL}/documents", json=body, data=data, timeout=TIMEOUT)


def assert_client_error(response):
    assert 400 <= response.status_code < 500, f"expected 4xx, got {response.status_code}"
    assert isinstance(response.json(), dict), "a 4xx answer must be a JSON object"


def results_of(response):
    assert response.status_code == 200, f"expected 200, got {response.status_code}"
    results = response.json()["results"]
    assert isinstance(results, list)
    for item in results:
        assert isinstance(item["id"], str)
        assert isinstance(item["score"], (int, float)) and not isinstance(item["score"], bool)
    return results


def test_health_answers_200():
    assert requests.get(f"{URL}/health", timeout=TIMEOUT).status_code == 200


def test_a_search_answers_ten_unique_ids_best_first():
    results = results_of(search({"query": TITLE, "k": 10}))
    ids = [r["id"] for r in results]
    assert len(ids) == 10 and len(set(ids)) == 10
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True), "results must come best first"


def test_k_defaults_to_10_and_bounds_the_results():
    assert len(results_of(search({"query": TITLE}))) == 10
    assert len(results_of(search({"query": TITLE, "k": 1}))) == 1
    assert 10 <= len(results_of(search({"query": TITLE, "k": 100}))) <= 100


@pytest.mark.parametrize("k", [0, -1, 101, 10**9, "ten", None, 2.5, [10]])
def test_k_out_of_range_or_not_an_integer_is_a_client_error(k):
    assert_client_error(search({"query": TITLE, "k": k}))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"k": 10},
        {"query": None},
        {"query": 42},
        {"query": ["a", "list"]},
        {"query": {"text": "nested"}},
        ["a", "json", "list"],
        "just a string",
        42,
    ],
    ids=["empty", "no-query", "null", "number", "list", "object", "array", "string", "int"],
)
def test_a_malformed_search_is_a_client_error(body):
    assert_client_error(search(body))


@pytest.mark.parametrize("data", [b"", b"not json", b'{"query": "unclosed', b"\xff\xfe\x00garbage"])
def test_a_body_that_is_not_json_is_a_client_error(data):
    assert_client_error(search(data=data, headers={"Content-Type": "application/json"}))


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_an_empty_query_gets_no_results_or_a_client_error(query):
    response = search({"query": query, "k": 10})
    if response.status_code == 200:
        assert results_of(response) == []
    else:
        assert_client_error(response)


@pytest.mark.parametrize(
    "query",
    [
        "naïve café résumé",
        "東京 サーバー 証明書",
        "مرحبا بالعالم",
        "🚀🔥 latency",
        "a\u0000b",
        "\ud800",
    ],
    ids=["accents", "cjk", "rtl", "emoji", "nul", "lone-surrogate"],
)
def test_unicode_queries_are_answered_with_a_list_or_a_client_error(query):
    response = search({"query": query, "k": 5})
    if response.status_code == 200:
        assert len(results_of(response)) <= 5
    else:
        assert_client_error(response)


def test_a_huge_query_is_answered_in_time_and_the_service_keeps_serving():
    words = " ".join(f"{TITLE} overflow{i}" for i in range(4000))
    response = search({"query": words, "k": 10})
    assert response.status_code == 200 or 400 <= response.status_code < 500
    if response.status_code == 200:
        assert len(results_of(response)) <= 10
    assert results_of(search({"query": TITLE, "k": 3}))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"documents": "not a list"},
        {"documents": []},
        {"documents": [{"title": "no id", "text": "x"}]},
        {"documents": [{"id": 7, "title": "id not a string", "text": "x"}]},
        {"documents": [{"id": "r-1", "title": "text not a string", "text": 42}]},
        {"documents": [{"id": "r-2", "title": None, "text": "title is null"}]},
        {"documents": ["not an object"]},
        [{"id": "r-3", "title": "a bare list", "text": "x"}],
    ],
    ids=["empty", "string", "no-docs", "no-id", "int-id", "int-text", "null-title", "str", "list"],
)
def test_malformed_documents_are_a_client_error(body):
    assert_client_error(add(body))


def test_more_than_1000_documents_in_one_request_is_a_client_error():
    docs = [{"id": f"bulk-{i}", "title": "bulk", "text": "bulk"} for i in range(1001)]
    assert_client_error(add({"documents": docs}))


def test_documents_that_are_not_json_are_a_client_error():
    assert_client_error(add(data=b"id,title,text\nx,y,z"))


def test_concurrent_searches_all_succeed():
    queries = [doc["title"] for doc in DOCS[:24]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda q: search({"query": q, "k": 10}), queries))
    assert [r.status_code for r in responses] == [200] * len(queries)


def test_the_service_still_serves_after_all_of_the_above():
    assert requests.get(f"{URL}/health", timeout=TIMEOUT).status_code == 200
    assert len(results_of(search({"query": DOCS[1]["title"]}))) == 10
