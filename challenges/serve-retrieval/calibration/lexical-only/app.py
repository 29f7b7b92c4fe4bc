"""lexical-only: the reference's engineering (validation, live updates, one model-free index)
with BM25 alone, no embeddings.

Fast, fresh and safe, and it finds every page whose words the question uses; but paraphrased
questions ("stop-the-world hiccups" for a page on garbage-collection pauses) miss. A practitioner
would ship it as a first version and say so: relevance sits at the lexical baseline, well short
of what a hybrid reaches with the same libraries.
"""

from pathlib import Path

from search_index import HybridIndex
from service import create_app

CORPUS = Path(__file__).parent / "corpus" / "docs.jsonl"

app = create_app(HybridIndex.from_jsonl(None, CORPUS))
