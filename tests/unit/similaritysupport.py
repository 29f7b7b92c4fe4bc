"""Planted submissions of one task for the similarity tests: a starter (given code and a
variant's generated file), two near-identical solutions (the second with its names changed and
its functions reordered) and one written apart; and graded runs holding them as archives."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from prodproven.runner.runs.archives import sha256_of
from prodproven.runner.runs.store import Run, Status, Store

STARTER = {
    "serve.py": '''"""The service the candidate keeps up: given, not to be changed."""
import json
import logging
from http.server import BaseHTTPRequestHandler, HTTPServer

log = logging.getLogger("serve")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/health":
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"status": "ok", "version": "1.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def run(port=8000):
    server = HTTPServer(("127.0.0.1", port), Handler)
    log.info("listening on %s", port)
    server.serve_forever()
''',
    "params.py": '''"""Generated for this variant."""
SLO_MS = 250.0
MIN_SUCCESS = 0.99
HOURS = ["2024-01-01T00", "2024-01-01T01", "2024-01-01T02", "2024-01-01T03"]
WEIGHTS = {"a": 0.25, "b": 0.5, "c": 0.125, "d": 0.125}
''',
}

FIRST = """import csv
from collections import defaultdict
from statistics import quantiles


def load_rows(path):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return [
            {
                "hour": row["ts"][:13],
                "latency": float(row["latency_ms"]),
                "ok": row["status"] == "200",
            }
            for row in reader
        ]


def p95(values):
    if len(values) < 2:
        return values[0] if values else 0.0
    return quantiles(values, n=100)[94]


def by_hour(rows):
    groups = defaultdict(list)
    for row in rows:
        groups[row["hour"]].append(row)
    return dict(sorted(groups.items()))


def breaches(rows, slo_ms=250.0, min_success=0.99):
    flagged = []
    for hour, items in by_hour(rows).items():
        latency = p95([item["latency"] for item in items])
        success = sum(1 for item in items if item["ok"]) / len(items)
        if latency > slo_ms or success < min_success:
            flagged.append({"hour": hour, "p95": round(latency, 1), "success": round(success, 4)})
    return flagged


def main(path):
    rows = load_rows(path)
    for breach in breaches(rows):
        print(f"{breach['hour']}: p95={breach['p95']}ms success={breach['success']:.2%}")
    return 0 if not breaches(rows) else 1
"""

RENAMED_AND_REORDERED = """import csv
from collections import defaultdict
from statistics import quantiles


def report(csv_file):
    # print every hour that missed the objective
    records = read_records(csv_file)
    for miss in slo_misses(records):
        print(f"{miss['window']}: tail={miss['tail']}ms ok-rate={miss['rate']:.2%}")
    return 0 if not slo_misses(records) else 1


def slo_misses(records, objective=300.0, floor=0.995):
    missed = []
    for window, batch in per_window(records).items():
        tail = tail_latency([r["latency"] for r in batch])
        rate = sum(1 for r in batch if r["good"]) / len(batch)
        if tail > objective or rate < floor:
            missed.append({"window": window, "tail": round(tail, 2), "rate": round(rate, 3)})
    return missed


def read_records(csv_file):
    with open(csv_file, newline="") as fh:
        rd = csv.DictReader(fh)
        return [
            {
                "window": r["ts"][:13],
                "latency": float(r["latency_ms"]),
                "good": r["status"] == "200",
            }
            for r in rd
        ]


def per_window(records):
    buckets = defaultdict(list)
    for r in records:
        buckets[r["window"]].append(r)
    return dict(sorted(buckets.items()))


def tail_latency(samples):
    if len(samples) < 2:
        return samples[0] if samples else 0.0
    return quantiles(samples, n=100)[94]
"""

INDEPENDENT = '''"""SLO report: hours whose tail latency or error rate misses the objective."""
import csv
import math


class HourStats:
    def __init__(self):
        self.latencies = []
        self.errors = 0

    def add(self, latency, failed):
        self.latencies.append(latency)
        if failed:
            self.errors += 1

    def tail(self, share=0.95):
        ordered = sorted(self.latencies)
        index = max(0, math.ceil(share * len(ordered)) - 1)
        return ordered[index]

    def error_rate(self):
        return self.errors / len(self.latencies)


def report(path, objective=250, budget=0.01):
    hours = {}
    with open(path) as source:
        for record in csv.DictReader(source):
            stats = hours.setdefault(record["ts"][:13], HourStats())
            stats.add(float(record["latency_ms"]), record["status"] != "200")
    missed = []
    for hour in sorted(hours):
        stats = hours[hour]
        if stats.tail() > objective or stats.error_rate() > budget:
            missed.append((hour, stats.tail(), stats.error_rate()))
    return missed


if __name__ == "__main__":
    import sys

    for hour, tail, rate in report(sys.argv[1]):
        print(hour, tail, rate)
'''


def write_folder(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def archive(path: Path, files: dict[str, str]) -> Path:
    """A workspace archive as the engine streams it (members under ``./``)."""
    with tarfile.open(path, "w") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"./{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def graded_with(
    store: Store,
    folder: Path,
    candidate: str,
    solution: str,
    *,
    challenge: str = "slo-report",
    run: Run | None = None,
) -> Run:
    """A graded run of ``challenge`` whose archive holds the starter and ``solution.py``
    (``run``: an existing run to give it to)."""
    if run is None:
        run = store.create_run(
            challenge_id=challenge,
            challenge_version="1.0.0",
            challenge_path=f"/challenges/{challenge}",
            candidate=candidate,
            mode="interactive",
        )
        for status in (Status.provisioning, Status.running):
            store.transition(run.id, status)
    tar = archive(folder / f"{run.id}.tar", {**STARTER, "solution.py": solution})
    for status in (Status.submitted, Status.grading):
        store.transition(run.id, status)
    return store.transition(
        run.id,
        Status.graded,
        score=50.0,
        result={"score": 50.0},
        archive_path=str(tar),
        archive_sha256=sha256_of(tar),
    )
