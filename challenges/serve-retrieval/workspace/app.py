"""First version of the knowledge-base search behind the team's assistant. It works on the
happy path: every query scans every document and counts how many of the query's words it has.
"""

import json
from pathlib import Path

from fastapi import FastAPI

CORPUS = Path("/workspace/corpus/docs.jsonl")

app = FastAPI()
documents = {}
for line in CORPUS.read_text().splitlines():
    doc = json.loads(line)
    documents[doc["id"]] = doc


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/search")
def search(body: dict):
    words = set(body["query"].lower().split())
    k = body.get("k", 10)
    scored = []
    for doc in documents.values():
        text = (doc["title"] + " " + doc["text"]).lower().split()
        score = sum(1 for word in text if word in words)
        if score > 0:
            scored.append((score, doc["id"]))
    scored.sort(reverse=True)
    return {"results": [{"id": doc_id, "score": float(score)} for score, doc_id in scored[:k]]}


@app.post("/documents")
def add_documents(body: dict):
    for doc in body["documents"]:
        documents[doc["id"]] = doc
    return {"indexed": len(body["documents"])}
