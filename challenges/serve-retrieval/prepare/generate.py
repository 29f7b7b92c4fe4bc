"""Generate serve-retrieval's knowledge base and hidden query sets from a seed (the variant).

Runs inside the challenge image (no network) as `python generate.py OUT [--seed N]` and writes:

    OUT/workspace/corpus/docs.jsonl       the knowledge base: {"id", "title", "text"} a line
    OUT/workspace/queries/dev.jsonl       example questions with their relevant ids
    OUT/workspace/embedder.py             the embedding model's loader (this folder's copy)
    OUT/hidden/relevance/queries.json     the graded questions (never in dev.jsonl)
    OUT/hidden/relevance/curve.json       lexical baseline and plain-hybrid target on them
    OUT/hidden/freshness/added.json       documents of new products, each with a query for it
    OUT/hidden/freshness/replaced.json    new versions of existing ids, old and new queries
    OUT/hidden/load/searches.json         unique search bodies for the load
    OUT/hidden/load/updates.json          bodies of new documents posted during the load
    OUT/hidden/load/spot_checks.json      exact titles whose document must come back

The seed draws the product names, their components and topics, the pages' wording and the
questions' paraphrases; the sizes, and so the difficulty, are the same for every seed.
"""

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
from vocabulary import TOPICS  # noqa: E402

DEFAULT_SEED = 20261126
PRODUCTS = 667
RELEVANCE, DEV, REPLACED, SPOT_CHECKS = 300, 20, 10, 120
ADDED, SEARCHES, UPDATES = 20, 1200, 90
EMBEDDER = Path(__file__).resolve().parent / "embedder.py"


def asked(entries: list[corpus.Entry], questions: list[str]) -> list[dict[str, object]]:
    return [
        {"query": text, "relevant": [entry.document["id"]]}
        for entry, text in zip(entries, questions, strict=True)
    ]


def replacement(rng: random.Random, names: corpus.Names, old: corpus.Entry) -> dict[str, object]:
    """A new version of ``old``'s id about another product and a topic whose title shares no word
    with the old one: the old title must stop finding it, the new one must find it."""
    old_words = set(old.topic.title.lower().split())
    topic = rng.choice([t for t in TOPICS if not old_words & set(t.title.lower().split())])
    item = corpus.product(rng, names)
    new = corpus.Entry(item, topic, corpus.document(rng, old.document["id"], item, topic))
    return {
        "document": new.document,
        "old_query": old.document["title"],
        "new_query": corpus.reworded_title(new),
    }


def material(seed: int, products: int = PRODUCTS) -> dict[str, object]:
    """Every generated file's content by its path under OUT (JSON values; .jsonl files as lists of
    lines' values)."""
    rng = random.Random(seed)
    names = corpus.Names(rng)
    entries = corpus.corpus(rng, names, products)
    drawn = rng.sample(entries, RELEVANCE + DEV + REPLACED + SPOT_CHECKS)
    graded, dev = drawn[:RELEVANCE], drawn[RELEVANCE : RELEVANCE + DEV]
    replaced = drawn[RELEVANCE + DEV : RELEVANCE + DEV + REPLACED]
    spot = drawn[RELEVANCE + DEV + REPLACED :]
    taken: set[str] = set()
    graded_questions = [corpus.question(rng, entry, taken) or "" for entry in graded]
    dev_questions = [corpus.question(rng, entry, taken) or "" for entry in dev]
    searches: list[dict[str, object]] = []
    while len(searches) < SEARCHES:
        text = corpus.question(rng, rng.choice(entries), taken)
        if text is not None:
            searches.append({"query": text, "k": 10})
    added = corpus.new_entries(rng, names, "n", ADDED)
    updates, fresh = [], corpus.new_entries(rng, names, "u", UPDATES * 2)
    while fresh:
        size = min(rng.randint(1, 2), len(fresh))
        updates.append({"documents": [entry.document for entry in fresh[:size]]})
        fresh = fresh[size:]
    return {
        "workspace/corpus/docs.jsonl": [entry.document for entry in entries],
        "workspace/queries/dev.jsonl": asked(dev, dev_questions),
        "hidden/relevance/queries.json": asked(graded, graded_questions),
        "hidden/freshness/added.json": [
            {"document": entry.document, "query": corpus.reworded_title(entry)} for entry in added
        ],
        "hidden/freshness/replaced.json": [replacement(rng, names, old) for old in replaced],
        "hidden/load/searches.json": searches,
        "hidden/load/updates.json": updates,
        "hidden/load/spot_checks.json": [
            {"body": {"query": entry.document["title"], "k": 10}, "expect": entry.document["id"]}
            for entry in spot
        ],
    }


def write_material(out: Path, seed: int, products: int = PRODUCTS) -> dict[str, object]:
    """Write every generated file under ``out`` and the embedder's loader; returns the content."""
    files = material(seed, products)
    for relative, value in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if relative.endswith(".jsonl"):
            assert isinstance(value, list)
            path.write_text("".join(json.dumps(line) + "\n" for line in value))
        else:
            path.write_text(json.dumps(value))
    shutil.copyfile(EMBEDDER, out / "workspace" / "embedder.py")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--products", type=int, default=PRODUCTS, help="corpus size / 20")
    args = parser.parse_args()
    files = write_material(args.out, args.seed, args.products)
    # The retrieval libraries are in the challenge image only; the host's tests generate the
    # files above without them.
    import curve

    documents = files["workspace/corpus/docs.jsonl"]
    queries = files["hidden/relevance/queries.json"]
    assert isinstance(documents, list) and isinstance(queries, list)
    measured = curve.measure(documents, queries)
    target = args.out / "hidden" / "relevance" / "curve.json"
    target.write_text(json.dumps(curve.curve(measured), indent=2))
    print(f"seed {args.seed}: {len(documents)} documents, {json.dumps(measured)}")


if __name__ == "__main__":
    main()
