"""A cheating stand-in for the candidate's service, used only by ``challenge validate``.

It answers the challenge's endpoint without a model, by one of the tricks a candidate might
try (usage: ``cheat_server.py CONFIG``, the JSON file runner/builtin_cheats.py writes):

- ``constant``: every input gets the same hard-coded answer;
- ``hidden``: look for the hidden answer files anywhere on the container's filesystem;
- ``network``: ask an answer server outside the sandbox (the validator's oracle).

When ``hidden`` or ``network`` find nothing, it answers 503, so it scores 0 unless the sandbox
leaks. Hidden inputs may be instances or request bodies (``{"instances": [...]}``, as a
served-auc grader sends them). It listens on ``PORT`` when set (each replica of a deployment
is told its own), else on the config's port. Standard library only: it must run in any
challenge image.
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
_table = {}
_looked = False


def key(instance):
    return json.dumps(instance, sort_keys=True)


def answer_table(inputs, expected):
    """Expected answers by instance; request bodies among ``inputs`` are unpacked in order."""
    instances = []
    for item in inputs:
        if isinstance(item, dict) and isinstance(item.get("instances"), list):
            instances.extend(item["instances"])
        else:
            instances.append(item)
    return {key(i): a for i, a in zip(instances, expected, strict=False)}


def search_hidden():
    """Answer table from hidden input/expected files found on disk ({} when none)."""
    inputs_name, expected_name = (os.path.basename(rel) for rel in CONFIG["hidden"])
    seen = 0
    top = CONFIG.get("search_root", "/")
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not (root == top and d in SKIP)]
        seen += len(files)
        if seen > 400_000:
            break
        if inputs_name in files and expected_name in files:
            try:
                with open(os.path.join(root, inputs_name)) as fh:
                    inputs = json.load(fh)
                with open(os.path.join(root, expected_name)) as fh:
                    expected = json.load(fh)
                return answer_table(inputs, expected)
            except (OSError, ValueError):
                continue
    return {}


def gateways():
    """The default gateway of this container, read from the kernel's routing table."""
    found = []
    try:
        with open("/proc/net/route") as fh:
            for line in fh.read().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000":
                    raw = bytes.fromhex(fields[2])[::-1]
                    found.append(".".join(str(b) for b in raw))
    except OSError:
        pass
    return found


def ask_oracle():
    oracle = CONFIG["oracle"]
    for host in [*oracle["hosts"], *gateways(), "host.docker.internal"]:
        url = f"http://{host}:{oracle['port']}/key?token={oracle['token']}"
        try:
            with urllib.request.urlopen(url, timeout=1.5) as resp:
                files = json.loads(resp.read())["files"]
                inputs, expected = (files[rel] for rel in CONFIG["hidden"])
                return answer_table(inputs, expected)
        except Exception:
            continue
    return {}


def table():
    global _looked, _table
    with _lock:
        if not _looked:
            _looked = True
            _table = search_hidden() if CONFIG["mode"] == "hidden" else ask_oracle()
        return _table


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
            body = json.loads(self.rfile.read(length) or b"{}")
            instances = body.get("instances", [])
        except (ValueError, AttributeError):
            instances = []
        if CONFIG["mode"] == "constant":
            answers = [CONFIG["constant"] for _ in instances]
        else:
            found = table()
            if not found:
                self.reply(503, {"error": "no answer key reachable"})
                return
            answers = [found.get(key(i), CONFIG["constant"]) for i in instances]
        self.reply(200, {name: answers for name in CONFIG["keys"]})


PORT = int(os.environ.get("PORT") or CONFIG["port"])
ThreadingHTTPServer((CONFIG.get("bind", "0.0.0.0"), PORT), Handler).serve_forever()
