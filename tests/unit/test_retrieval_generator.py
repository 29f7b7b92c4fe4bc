"""serve-retrieval's generator (challenges/serve-retrieval/prepare/), on the host: the corpus and
every query set are standard library only; only the relevance curve needs bm25s and wordllama,
which live in the challenge image (tests/integration/test_retrieval_material.py runs it there).

Deterministic from the seed, and the hidden sets keep their promises: graded questions never in
the examples, a replaced id never one the load or the relevance grader expects, unique load
bodies, new ids for every posted document."""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import BUILTIN

PREPARE = BUILTIN / "serve-retrieval" / "prepare"
SEED, OTHER_SEED = 20261126, 7
SMALL = 40
"""Products in the small corpus (30 documents each): enough for every hidden set."""


def prepare_module(name: str) -> ModuleType:
    if str(PREPARE) not in sys.path:
        sys.path.insert(0, str(PREPARE))
    return importlib.import_module(name)


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def load(out: Path, relative: str) -> Any:
    path = out / relative
    if relative.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines()]
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    generate = prepare_module("generate")
    root = tmp_path_factory.mktemp("retrieval-gen")
    runs = {"one": SEED, "again": SEED, "other": OTHER_SEED}
    for name, seed in runs.items():
        generate.write_material(root / name, seed, SMALL)
    return {name: root / name for name in runs}


@pytest.fixture(scope="module")
def full() -> dict[str, Any]:
    material: dict[str, Any] = prepare_module("generate").material(SEED)
    return material


def test_the_same_seed_gives_the_same_files(outputs: dict[str, Path]) -> None:
    assert files_under(outputs["one"]) == files_under(outputs["again"])


def test_another_seed_draws_other_products_and_wording(outputs: dict[str, Path]) -> None:
    titles = {d["title"] for d in load(outputs["one"], "workspace/corpus/docs.jsonl")}
    others = {d["title"] for d in load(outputs["other"], "workspace/corpus/docs.jsonl")}
    assert not titles & others
    queries = [q["query"] for q in load(outputs["one"], "hidden/relevance/queries.json")]
    assert queries != [q["query"] for q in load(outputs["other"], "hidden/relevance/queries.json")]


def test_the_default_corpus_has_twenty_thousand_runbook_pages(full: dict[str, Any]) -> None:
    docs = full["workspace/corpus/docs.jsonl"]
    assert 19_900 <= len(docs) <= 20_100
    assert [d["id"] for d in docs[:2]] == ["d00001", "d00002"]
    assert len({d["id"] for d in docs}) == len(docs)
    assert len({d["title"] for d in docs}) == len(docs)
    assert all(set(d) == {"id", "title", "text"} for d in docs)
    assert all(60 <= len(d["text"].split()) <= 150 for d in docs)


def test_product_names_are_unique_invented_words(full: dict[str, Any]) -> None:
    topics = prepare_module("vocabulary").TOPICS
    docs = full["workspace/corpus/docs.jsonl"]
    products = {d["title"].split(" ")[0] for d in docs}
    assert len(products) == len(docs) // prepare_module("corpus").TOPICS_PER_PRODUCT
    vocabulary = {
        word
        for topic in topics
        for text in (topic.title, *topic.sentences, *topic.paraphrases)
        for word in re.findall(r"[a-z]+", text.lower())
    }
    assert all(name.isalpha() and name.lower() not in vocabulary for name in products)


def test_the_hidden_sets_have_their_sizes(full: dict[str, Any]) -> None:
    assert len(full["hidden/relevance/queries.json"]) == 300
    assert len(full["workspace/queries/dev.jsonl"]) == 20
    assert len(full["hidden/freshness/added.json"]) == 20
    assert len(full["hidden/freshness/replaced.json"]) == 10
    assert len(full["hidden/load/searches.json"]) >= 1000
    assert len(full["hidden/load/updates.json"]) >= 80
    assert len(full["hidden/load/spot_checks.json"]) >= 100


def test_a_question_names_its_product_and_paraphrases_the_title(full: dict[str, Any]) -> None:
    docs = {d["id"]: d for d in full["workspace/corpus/docs.jsonl"]}
    for item in full["hidden/relevance/queries.json"] + full["workspace/queries/dev.jsonl"]:
        assert len(item["relevant"]) == 1
        title = docs[item["relevant"][0]]["title"]
        product, topic = title.split(": ")
        assert product.split(" ")[0] in item["query"]
        assert topic.lower() not in item["query"].lower()


def test_graded_questions_are_never_the_examples(full: dict[str, Any]) -> None:
    graded = full["hidden/relevance/queries.json"]
    dev = full["workspace/queries/dev.jsonl"]
    assert not {q["query"] for q in graded} & {q["query"] for q in dev}
    assert not {i for q in graded for i in q["relevant"]} & {i for q in dev for i in q["relevant"]}
    searched = {body["query"] for body in full["hidden/load/searches.json"]}
    assert not searched & {q["query"] for q in graded + dev}


def test_load_searches_are_unique_bodies(full: dict[str, Any]) -> None:
    searches = full["hidden/load/searches.json"]
    assert all(body["k"] == 10 and set(body) == {"query", "k"} for body in searches)
    assert len({body["query"] for body in searches}) == len(searches)


def test_spot_checks_ask_an_existing_title_and_no_replaced_id(full: dict[str, Any]) -> None:
    docs = {d["id"]: d for d in full["workspace/corpus/docs.jsonl"]}
    replaced = {r["document"]["id"] for r in full["hidden/freshness/replaced.json"]}
    graded = {i for q in full["hidden/relevance/queries.json"] for i in q["relevant"]}
    for check in full["hidden/load/spot_checks.json"]:
        assert check["body"] == {"query": docs[check["expect"]]["title"], "k": 10}
    expected = {check["expect"] for check in full["hidden/load/spot_checks.json"]}
    assert not replaced & (expected | graded)


def test_a_replacement_keeps_its_id_and_changes_product_and_topic(full: dict[str, Any]) -> None:
    docs = {d["id"]: d for d in full["workspace/corpus/docs.jsonl"]}
    for item in full["hidden/freshness/replaced.json"]:
        new, old = item["document"], docs[item["document"]["id"]]
        assert item["old_query"] == old["title"]
        old_product, old_topic = old["title"].split(": ")
        new_product, new_topic = new["title"].split(": ")
        assert old_product.split(" ")[0] not in new["title"] + new["text"]
        assert not set(old_topic.lower().split()) & set(new_topic.lower().split())
        assert new_product.split(" ")[0] in item["new_query"]
        assert item["new_query"] != item["old_query"]


def test_posted_documents_bring_new_ids_and_new_products(full: dict[str, Any]) -> None:
    docs = full["workspace/corpus/docs.jsonl"]
    known_ids = {d["id"] for d in docs}
    known_products = {d["title"].split(" ")[0] for d in docs}
    added = [item["document"] for item in full["hidden/freshness/added.json"]]
    updates = [doc for body in full["hidden/load/updates.json"] for doc in body["documents"]]
    assert all(1 <= len(body["documents"]) <= 2 for body in full["hidden/load/updates.json"])
    assert [d["id"] for d in added][:2] == ["n00001", "n00002"]
    assert [d["id"] for d in updates][:2] == ["u00001", "u00002"]
    posted = added + updates
    assert len({d["id"] for d in posted}) == len(posted)
    assert not {d["id"] for d in posted} & known_ids
    new_products = [d["title"].split(" ")[0] for d in posted]
    assert len(set(new_products)) == len(posted)
    assert not set(new_products) & known_products
    replacements = {
        r["document"]["title"].split(" ")[0] for r in full["hidden/freshness/replaced.json"]
    }
    assert not replacements & (known_products | set(new_products))


def test_an_added_document_is_found_by_its_reworded_title(full: dict[str, Any]) -> None:
    for item in full["hidden/freshness/added.json"]:
        product, topic = item["document"]["title"].split(": ")
        assert item["query"] == f"{topic.lower()} for {product}"


def test_the_workspace_gets_the_embedders_loader(outputs: dict[str, Path]) -> None:
    written = (outputs["one"] / "workspace" / "embedder.py").read_text()
    assert written == (PREPARE / "embedder.py").read_text()
    assert "def load_embedder()" in written


def test_its_modules_are_named_apart_from_other_challenges_generators() -> None:
    """The host's tests import several challenges' generators into one process by module
    name: a shared name (say ``catalogue``) would hand one challenge's tests the other's."""
    ours = {p.stem for p in PREPARE.glob("*.py")} - {"generate"}
    others = {p.stem for p in BUILTIN.glob("*/prepare/*.py") if p.parent != PREPARE}
    assert not ours & others
