"""dense-brute-force: WordLlama alone, each query compared with every document's vector in a
plain Python loop.

The answers are reasonable (the dense half of the reference's hybrid, exact), updates are
visible at once and input is validated; but a query costs a pass over 20,000 vectors in the
interpreter, a few hundred milliseconds, so at 30 requests a second on one CPU the queue only
grows. A practitioner would conclude it works on a laptop demo and falls over in production:
the scan belongs in a vectorised (numpy, usearch) or indexed search.
"""

import json
import threading
from operator import mul
from pathlib import Path

from embedder import load_embedder
from service import create_app

CORPUS = Path(__file__).parent / "corpus" / "docs.jsonl"


class DenseScan:
    def __init__(self, path: Path) -> None:
        self.embedder = load_embedder()
        self.lock = threading.Lock()
        self.vectors: dict[str, list[float]] = {}
        with path.open() as fh:
            docs = [json.loads(line) for line in fh if line.strip()]
        self.upsert(docs)

    def upsert(self, docs: list[dict[str, str]]) -> int:
        texts = [f"{d['title']}\n{d['text']}" for d in docs]
        rows = self.embedder.embed(texts).tolist()
        with self.lock:
            for doc, row in zip(docs, rows, strict=True):
                self.vectors[doc["id"]] = row
        return len(docs)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        if not query.strip():
            return []
        q = self.embedder.embed([query])[0].tolist()
        with self.lock:
            scored = [(sum(map(mul, q, vec)), doc_id) for doc_id, vec in self.vectors.items()]
        scored.sort(reverse=True)
        return [(doc_id, round(score, 6)) for score, doc_id in scored[:k]]


app = create_app(DenseScan(CORPUS))
