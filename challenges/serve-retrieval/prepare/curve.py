"""The relevance grader's curve for one variant: what a lexical baseline and a plain hybrid
reach on the graded questions, computed with the same libraries the candidate has.

baseline: bm25s's default BM25 over title + text, lower-cased and split on non-alphanumerics.
target: reciprocal-rank fusion (k=60) of that BM25's top 100 and WordLlama's top 100 (cosine
over the embedder's vectors of title + text). A candidate at the baseline scores 0 on the
relevance grader, one at the target 1.
"""

import re

import bm25s
import numpy as np
from embedder import load_embedder

DEPTH, RRF_K, CUTOFF = 100, 60, 10
Ranking = list[list[int]]


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def lexical(texts: list[str], questions: list[str]) -> Ranking:
    index = bm25s.BM25()
    index.index([tokens(text) for text in texts], show_progress=False)
    known = set(index.vocab_dict)
    asked = [[t for t in tokens(q) if t in known] or [next(iter(known))] for q in questions]
    found, _ = index.retrieve(asked, k=DEPTH, show_progress=False, n_threads=1)
    return [list(map(int, row)) for row in found]


def dense(texts: list[str], questions: list[str]) -> Ranking:
    embedder = load_embedder()
    scores = embedder.embed(questions) @ embedder.embed(texts).T
    top = np.argpartition(-scores, DEPTH, axis=1)[:, :DEPTH]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1).tolist()


def fused(*rankings: Ranking) -> Ranking:
    """Reciprocal-rank fusion of per-question rankings."""
    result = []
    for rows in zip(*rankings, strict=True):
        score: dict[int, float] = {}
        for row in rows:
            for rank, doc in enumerate(row):
                score[doc] = score.get(doc, 0.0) + 1.0 / (RRF_K + rank + 1)
        result.append(sorted(score, key=lambda doc: -score[doc]))
    return result


def metrics(ranking: Ranking, relevant: list[set[int]]) -> dict[str, float]:
    """Recall@10 and MRR@10, averaged over questions."""
    recall = mrr = 0.0
    for row, wanted in zip(ranking, relevant, strict=True):
        top = row[:CUTOFF]
        recall += len(wanted.intersection(top)) / len(wanted)
        mrr += next((1.0 / (i + 1) for i, doc in enumerate(top) if doc in wanted), 0.0)
    return {
        "recall_at_10": round(recall / len(ranking), 4),
        "mrr_at_10": round(mrr / len(ranking), 4),
    }


def rankings(documents: list[dict[str, str]], questions: list[str]) -> dict[str, Ranking]:
    texts = [f"{doc['title']} {doc['text']}" for doc in documents]
    words, meaning = lexical(texts, questions), dense(texts, questions)
    return {"bm25": words, "dense": meaning, "hybrid": fused(words, meaning)}


def measure(documents: list[dict[str, str]], queries: list[dict[str, object]]) -> dict[str, object]:
    """Recall@10 and MRR@10 of BM25, dense and the hybrid on ``queries``."""
    position = {doc["id"]: i for i, doc in enumerate(documents)}
    questions = [str(q["query"]) for q in queries]
    relevant = [{position[str(i)] for i in q["relevant"]} for q in queries]  # type: ignore[attr-defined]
    return {
        name: metrics(ranked, relevant) for name, ranked in rankings(documents, questions).items()
    }


def curve(measured: dict[str, object]) -> dict[str, object]:
    """The relevance grader's curve.json from ``measure``'s figures."""
    return {
        "baseline": measured["bm25"],
        "target": measured["hybrid"],
        "how": {
            "baseline": "bm25s BM25 (default parameters) over title + text, lower-cased, split on "
            "non-alphanumerics",
            "target": "reciprocal-rank fusion (k=60) of that BM25's top 100 and the top 100 by "
            "cosine of WordLlama l2_supercat_256 embeddings of title + text",
        },
    }
