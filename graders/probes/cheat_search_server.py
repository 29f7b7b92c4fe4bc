"""A cheating stand-in for a search service (POST /search, POST /documents), used only by
``challenge validate`` (usage: ``cheat_search_server.py CONFIG``, the JSON file
runner/gate/search_cheats.py writes). Its tricks:

- ``dev-answers``: the example questions shipped in the workspace get their relevant ids, any
  other query the corpus's first ten ids: it scores only if the graded questions are the
  examples;
- ``constant``: every query gets the corpus's first ten ids;
- ``hidden``: look for the hidden relevance judgments anywhere on the container's filesystem
  and answer from them;
- ``network``: ask an answer server outside the sandbox (the validator's oracle) for them.

``hidden`` and ``network`` answer 503 when they find nothing, so they score 0 unless the
sandbox leaks.

Updates are acknowledged and ignored. It listens on ``PORT`` when set, else on the config's
port. Standard library only: it must run in any challenge image.
"""

import json
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

with open(sys.argv[1]) as config_file:
    CONFIG = json.load(config_file)
SKIP = {"proc", "sys", "dev"}
_lock = threading.Lock()
_table = None


def judged(items):
    """Relevant ids by query, from [{"query", "relevant"}, ...]."""
    return {
        item["query"]: list(item["relevant"])
        for item in items
        if isinstance(item, dict) and isinstance(item.get("query"), str)
    }


def from_dev():
    try:
        with open(CONFIG["dev"]) as fh:
            return judged(json.loads(line) for line in fh if line.strip())
    except (OSError, ValueError):
        return {}


def from_disk():
    """Judgments from a file at the hidden path (e.g. relevance/queries.json) found on disk."""
    folder, name = os.path.split(CONFIG["hidden"])
    top = CONFIG.get("search_root", "/")
    seen = 0
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not (root == top and d in SKIP)]
        seen += len(files)
        if seen > 400_000:
            break
        if name in files and os.path.basename(root) == os.path.basename(folder):
            try:
                with open(os.path.join(root, name)) as fh:
                    found = judged(json.load(fh))
            except (OSError, ValueError, TypeError):
                continue
            if found:
                return found
    return {}


def gateways():
    """The default gateway of this container, read from the kernel's routing table."""
    found = []
    try:
        with open("/proc/net/route") as fh:
            for line in fh.read().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000":
                    found.append(".".join(str(b) for b in bytes.fromhex(fields[2])[::-1]))
    except OSError:
        pass
    return found


def from_oracle():
    oracle = CONFIG["oracle"]
    for host in [*oracle["hosts"], *gateways(), "host.docker.internal"]:
        url = f"http://{host}:{oracle['port']}/key?token={oracle['token']}"
        try:
            with urllib.request.urlopen(url, timeout=1.5) as resp:
                return judged(json.loads(resp.read())["files"][CONFIG["hidden"]])
        except Exception:
            continue
    return {}


LOOKUPS = {
    "dev-answers": from_dev,
    "hidden": from_disk,
    "network": from_oracle,
    "constant": dict,
}


def table():
    global _table
    with _lock:
        if _table is None:
            _table = LOOKUPS[CONFIG["mode"]]()
        return _table


def fixed_list():
    ids = []
    try:
        with open(CONFIG["corpus"]) as fh:
            for line in fh:
                if len(ids) == 10:
                    break
                ids.append(json.loads(line)["id"])
    except (OSError, ValueError, KeyError):
        pass
    return ids


FIXED = fixed_list()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200, {"status": "ok"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.reply(400, {"error": "a JSON object is expected"})
            return
        if self.path.startswith("/documents"):
            self.reply(200, {"indexed": len(body.get("documents") or [])})
            return
        query, k = body.get("query"), body.get("k", 10)
        if not isinstance(query, str) or not isinstance(k, int) or not 1 <= k <= 100:
            self.reply(422, {"error": "query (a string) and k (1..100) are expected"})
            return
        found = table()
        if not found and CONFIG["mode"] in ("hidden", "network"):
            self.reply(503, {"error": "no relevance judgments reachable"})
            return
        ids = found.get(query) or FIXED
        results = [{"id": i, "score": 1.0 / (rank + 1)} for rank, i in enumerate(ids[:k])]
        self.reply(200, {"results": results})


PORT = int(os.environ.get("PORT") or CONFIG["port"])
ThreadingHTTPServer((CONFIG.get("bind", "0.0.0.0"), PORT), Handler).serve_forever()
