"""The SLO prober (runner/runs/prober.py): one canary request every interval, one JSON line
per answer on stdout, forever. Usage: prober CONFIG_JSON"""

import json
import sys
import threading
import time
import urllib.error
import urllib.request

cfg = json.loads(sys.argv[1])
url = f"http://127.0.0.1:{cfg['port']}{cfg['path']}"
bodies, keys, lock = cfg["bodies"], cfg["keys"], threading.Lock()


def probe(seq, sent, index):
    data = None if cfg["method"] == "GET" else json.dumps(bodies[index]).encode()
    request = urllib.request.Request(
        url, data=data, method=cfg["method"], headers={"Content-Type": "application/json"}
    )
    status, raw, error = None, b"", None
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=cfg["timeout"]) as answer:
            status, raw = answer.status, answer.read(1 << 20)
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read(2000)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    latency = (time.monotonic() - start) * 1000
    try:
        parsed = json.loads(raw)
        answer = {k: parsed[k] for k in keys if k in parsed} if isinstance(parsed, dict) else None
    except ValueError:
        answer = None
    line = json.dumps(
        {
            "seq": seq,
            "t": sent,
            "canary": index,
            "status": status,
            "latency_ms": round(latency, 2),
            "answer": answer,
            "error": error,
            "text": None if answer is not None else raw[:300].decode("utf-8", "replace"),
        }
    )
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


start, tick = time.monotonic(), 0
while True:
    sent = time.time()
    threading.Thread(
        target=probe, args=(int(sent * 1000), round(sent, 3), tick % len(bodies)), daemon=True
    ).start()
    tick += 1
    time.sleep(max(0.0, start + tick * cfg["interval"] - time.monotonic()))
