"""fixed-list: a placeholder ranking left in place: every query gets the corpus's first ten
documents.

The API is right to the letter (validation, ids, scores, updates acknowledged) and it is the
fastest service on the ladder, but it retrieves nothing: recall is that of chance. A
practitioner would see a stub, not a search service.
"""

import json
from pathlib import Path

from service import create_app

CORPUS = Path(__file__).parent / "corpus" / "docs.jsonl"


class FirstTen:
    def __init__(self, path: Path) -> None:
        with path.open() as fh:
            self.ids = [json.loads(next(fh))["id"] for _ in range(10)]

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        if not query.strip():
            return []
        return [(doc_id, 1.0 / (rank + 1)) for rank, doc_id in enumerate(self.ids[:k])]

    def upsert(self, docs: list[dict[str, str]]) -> int:
        return len(docs)


app = create_app(FirstTen(CORPUS))
