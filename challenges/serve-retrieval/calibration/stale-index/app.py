"""stale-index: the reference's hybrid search, but POST /documents only queues the documents
for a rebuild that nothing ever runs.

Every update is acknowledged with a 200 and never becomes searchable: a new product's page is
not found, and a replaced page keeps answering with its old text. Relevance and latency are
fine, so it looks healthy on every dashboard; a practitioner would not ship a RAG backend whose
answers go stale with the first edit.
"""

from pathlib import Path

from embedder import load_embedder
from search_index import HybridIndex
from service import create_app

CORPUS = Path(__file__).parent / "corpus" / "docs.jsonl"


class NightlyRebuildIndex(HybridIndex):
    """Updates wait for a nightly rebuild (which was never scheduled)."""

    pending: list[dict[str, str]] = []

    def upsert(self, docs: list[dict[str, str]]) -> int:
        self.pending.extend(docs)
        return len(docs)


app = create_app(NightlyRebuildIndex.from_jsonl(load_embedder(), CORPUS))
