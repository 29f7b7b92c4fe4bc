"""Search probe: sends each hidden query to the candidate's search endpoint and records the ids it
got back, best first. Runs in the grader image inside the evaluation pod; only the query strings
enter the container (the relevance judgements stay on the host, which scores the ids).

Usage: search_client.py [ROOT]  (ROOT defaults to /grading)
Reads ROOT/in/config.json {"port", "endpoint", "k", "timeout", "threads"} and ROOT/in/queries.json
(a list of strings); writes ROOT/out/answers.json {"answers": [{"ids", "status", "latency_ms",
"error"}, ...]}, one per query in order; ids is null when the request failed or its answer was
not {"results": [{"id": str, ...}, ...]}.

freshness_probe.py, shipped beside this file, imports post() and search() from it.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def post(url, body, timeout):
    """(status or None, parsed JSON answer or None, error text or "") of POSTing ``body``."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, raw = resp.status, resp.read(1 << 22)
    except urllib.error.HTTPError as err:
        return err.code, None, f"HTTP {err.code}: {err.read(200).decode('utf-8', 'replace')}"
    except Exception as err:  # timeouts, refused and reset connections
        return None, None, f"{type(err).__name__}: {err}"[:240]
    try:
        return status, json.loads(raw), ""
    except ValueError:
        return status, None, f"HTTP {status} with an answer that is not JSON"


def ids_of(answer, k):
    """The first ``k`` result ids of a search answer, or None when it is malformed."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        return None
    ids = [r.get("id") if isinstance(r, dict) else None for r in results[:k]]
    return ids if all(isinstance(i, str) for i in ids) else None


def search(base, endpoint, query, k, timeout):
    """One search: {"ids", "status", "latency_ms", "error"} (ids None unless a valid 200)."""
    started = time.monotonic()
    status, answer, error = post(base + endpoint, {"query": query, "k": k}, timeout)
    latency_ms = round(1000 * (time.monotonic() - started), 2)
    ids = ids_of(answer, k) if status == 200 else None
    if status == 200 and ids is None:
        error = error or 'HTTP 200 without {"results": [{"id": str, ...}, ...]}'
    return {"ids": ids, "status": status, "latency_ms": latency_ms, "error": error}


def main(root):
    with open(os.path.join(root, "in", "config.json")) as fh:
        config = json.load(fh)
    with open(os.path.join(root, "in", "queries.json")) as fh:
        queries = json.load(fh)
    base = f"http://127.0.0.1:{config['port']}"

    def ask(query):
        return search(base, config["endpoint"], query, config["k"], config["timeout"])

    with ThreadPoolExecutor(config.get("threads", 4)) as pool:
        answers = list(pool.map(ask, queries))
    os.makedirs(os.path.join(root, "out"), exist_ok=True)
    with open(os.path.join(root, "out", "answers.json"), "w") as fh:
        json.dump({"answers": answers}, fh)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/grading")
