"""A service whose health is scripted: each request reads /workspace/mode (ok, slow, wrong,
error) and answers accordingly. Standard library only."""

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODE = Path("/workspace/mode")


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(200, {"status": "ok"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        mode = MODE.read_text().strip() if MODE.is_file() else "ok"
        if mode == "slow":
            time.sleep(0.4)
        if mode == "error":
            self._answer(500, {"error": "scripted failure"})
        else:
            self._answer(200, {"answer": 0 if mode == "wrong" else 42})

    def log_message(self, *args: object) -> None:
        pass


ThreadingHTTPServer(("127.0.0.1", 8000), Handler).serve_forever()
