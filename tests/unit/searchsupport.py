"""A tiny search service on 127.0.0.1 for the search probes' tests, and a way to run a probe
script on the host against it (the probes take their /grading folder as an argument)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prodproven.graders.probes import probe

PROBE_TIMEOUT_S = 60


@dataclass
class StubSearch:
    """Documents by id; a search ranks those sharing most words with the query. Posted
    documents land after ``delay_s`` (0: at once); ``frozen``: never (a stale index)."""

    docs: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    frozen: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def search(self, query: str, k: int) -> list[str]:
        words = set(query.lower().split())
        with self.lock:
            hits = {i: len(words & set(text.lower().split())) for i, text in self.docs.items()}
        ranked = sorted((i for i, n in hits.items() if n), key=lambda i: (-hits[i], i))
        return ranked[:k]

    def post(self, documents: list[dict[str, str]]) -> None:
        def land() -> None:
            with self.lock:
                for d in documents:
                    self.docs[d["id"]] = f"{d['title']} {d['text']}"

        if not self.frozen:
            threading.Timer(self.delay_s, land).start()


def handler(stub: StubSearch) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/documents":
                stub.post(body["documents"])
                self.answer(200, json.dumps({"indexed": len(body["documents"])}).encode())
            elif body["query"] == "crash":
                self.answer(500, b'{"detail": "boom"}')
            elif body["query"] == "garbled":
                self.answer(200, b"not json")
            else:
                ids = stub.search(body["query"], body["k"])
                results = [{"id": i, "score": 1.0} for i in ids]
                self.answer(200, json.dumps({"results": results}).encode())

        def answer(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving(stub: StubSearch) -> Iterator[int]:
    """Serve ``stub`` on a free port of 127.0.0.1 while the context lasts; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(stub))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_probe_script(root: Path, script: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run the probe ``script`` (search_client.py beside it) with ``root`` as its /grading
    folder and ``inputs`` as root/in/<name>.json; its root/out/answers.json."""
    (root / "in").mkdir(parents=True, exist_ok=True)
    for name in {"search_client.py", script}:
        (root / name).write_bytes(probe(name))
    for name, value in inputs.items():
        (root / "in" / f"{name}.json").write_text(json.dumps(value))
    subprocess.run([sys.executable, str(root / script), str(root)], check=True,
                   timeout=PROBE_TIMEOUT_S)  # fmt: skip
    answers: dict[str, Any] = json.loads((root / "out" / "answers.json").read_text())
    return answers
