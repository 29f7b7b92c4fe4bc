"""First version of the knowledge-base search behind the team's assistant. It works on the
happy path: every query scans every document and counts how many of the query's words it has
(each document is split into words once, when it is loaded).
"""

import json
from pathlib import Path

from fastapi import FastAPI

CORPUS = Path("/workspace/corpus/docs.jsonl")

app = FastAPI()
documents = {}


def load(doc):
    words = (doc["title"] + " " + doc["text"]).lower().split()
    documents[doc["id"]] = words


for line in CORPUS.read_text().splitlines():
    load(json.loads(line))


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/search")
def search(body: dict):
    words = set(body["query"].lower().split())
    k = body.get("k", 10)
    scored = []
    for doc_id, text in documents.items():
        score = sum(1 for word in text if word in words)
        if score > 0:
            scored.append((score, doc_id))
    scored.sort(reverse=True)
    return {"results": [{"id": doc_id, "score": float(score)} for score, doc_id in scored[:k]]}


@app.post("/documents")
def add_documents(body: dict):
    for doc in body["documents"]:
        load(doc)
    return {"indexed": len(body["documents"])}
