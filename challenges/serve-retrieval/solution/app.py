"""The reference retrieval service: hybrid BM25 + WordLlama search over the corpus, updated live.

The model and the index are built once, at import: uvicorn runs one worker on the one CPU.
"""

from pathlib import Path

from embedder import load_embedder
from search_index import HybridIndex
from service import create_app

CORPUS = Path(__file__).parent / "corpus" / "docs.jsonl"

app = create_app(HybridIndex.from_jsonl(load_embedder(), CORPUS))
