"""Reference responder for incident-response: what a good on-call engineer does, scripted.

The runner starts it (through respond.sh) in /workspace right after a fault is injected, while
the service may still be restarting. It does not know which fault fired; it finds out:

1. detect: the config file against the config of every earlier start (the worker logs each as a
   `startup config {...}` line), and the service's behaviour with documented-schema requests:
   422 schema errors, one answer for everyone over a spread of customers, canary-sized requests
   slower than the SLO, resident memory that grows with every request or OOM kills in the log;
2. mitigate: roll back what the last deploy changed in service/config.yaml (comments kept), so
   that a fresh start is healthy too, then `svcctl restart`;
3. verify: several canary-like requests answered 2xx, within the SLO, with both classes over the
   spread, and memory flat;
4. write /workspace/postmortem.md from what it observed.

It exits 0 after a verified mitigation, 3 when it finds nothing wrong (and writes nothing), and
1 when the mitigation did not verify (the postmortem is not written then either).
"""

from __future__ import annotations

import json
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

WORKSPACE = Path("/workspace")
SERVICE_DIR = WORKSPACE / "service"
CONFIG = SERVICE_DIR / "config.yaml"
LOG = SERVICE_DIR / "logs" / "service.log"
POSTMORTEM = WORKSPACE / "postmortem.md"
API = "http://127.0.0.1:8000"
SLO_MS = 250.0
WAIT_S = 30.0
LEAK_BYTES_PER_REQUEST = 2 << 20
# Customers spread over the typical ranges: a working model calls some of them churners.
SPREAD_ROWS = 128
# The documented request schema (README.md): feature, lowest and highest typical value, integer.
SCHEMA: list[tuple[str, float, float, bool]] = [
    ("tenure_months", 5, 65, True),
    ("monthly_charges", 32, 99, False),
    ("support_tickets", 0, 3, True),
    ("sessions_per_week", 1.3, 9.6, False),
    ("avg_session_minutes", 9.5, 42, False),
    ("days_since_last_login", 0, 20, True),
    ("discount_pct", 4, 43, False),
    ("num_devices", 1, 5, True),
]
BANNER = re.compile(r"^(\S+) \[worker \d+\] startup config (\{.*\})\s*$")
OOM = re.compile(r"^(\S+) \[supervisor\] worker killed by signal 9")
KEYS = ("model", "features", "explain", "trace_requests")


def now() -> datetime:
    return datetime.now(UTC)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def log_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def say(message: str) -> None:
    print(f"{stamp(now())} {message}", flush=True)


def spread(n: int, seed: int) -> list[dict[str, float]]:
    """``n`` documented-schema customers spread over the typical ranges, reproducibly."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        row: dict[str, float] = {}
        for name, low, high, integer in SCHEMA:
            value = rng.uniform(low, high)
            row[name] = round(value) if integer else round(value, 1)
        rows.append(row)
    return rows


@dataclass
class Answer:
    status: int | None
    ms: float
    body: Any

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.body, dict)


def request(path: str, payload: object | None = None, timeout: float = 10.0) -> Answer:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(f"{API}{path}", data, {"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError as exc:
        return Answer(None, (time.perf_counter() - start) * 1000, str(exc))
    ms = (time.perf_counter() - start) * 1000
    try:
        body = json.loads(raw)
    except ValueError:
        body = raw.decode(errors="replace")
    return Answer(status, ms, body)


def wait_healthy(limit_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if request("/health", timeout=2).ok:
            return True
        time.sleep(0.25)
    return False


def resident_bytes() -> int | None:
    answer = request("/metrics", timeout=5)
    if answer.status != 200 or not isinstance(answer.body, str):
        return None
    match = re.search(r"^process_resident_memory_bytes (\d+)", answer.body, re.M)
    return int(match.group(1)) if match else None


def effective(config: dict[str, Any]) -> dict[str, Any]:
    """The keys the worker acts on, with its defaults."""
    return {
        "model": config.get("model"),
        "features": config.get("features"),
        "explain": config.get("explain", False),
        "trace_requests": config.get("trace_requests", False),
    }


@dataclass
class Findings:
    detected_at: datetime | None = None
    current: dict[str, Any] = field(default_factory=dict)
    good: dict[str, Any] | None = None
    good_since: str | None = None
    deployed_at: str | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    symptoms: dict[str, str] = field(default_factory=dict)
    timeline: list[tuple[str, str]] = field(default_factory=list)

    def note(self, message: str, at: datetime | None = None) -> None:
        self.timeline.append((stamp(at or now()), message))
        say(message)

    def detect(self, what: str, evidence: str) -> None:
        if self.detected_at is None:
            self.detected_at = now()
            self.note(f"detected: {evidence}", self.detected_at)
        else:
            say(evidence)
        self.symptoms.setdefault(what, evidence)


def describe_change(key: str, was: Any, now_: Any) -> str:
    """One config change in words; a features list shows only what was renamed or moved."""
    if key == "features" and isinstance(was, list) and isinstance(now_, list):
        renamed = [f"`{a}` -> `{b}`" for a, b in zip(was, now_, strict=False) if a != b]
        if len(was) == len(now_) and renamed:
            return f"`features`: {', '.join(renamed)}"
    return f"`{key}`: `{json.dumps(was)}` -> `{json.dumps(now_)}`"


def read_history(findings: Findings) -> None:
    """From the config of each start in the log: the last known-good config (the latest start
    whose config differs from the file), the deploy (the first start with the file's config
    after it) and what the deploy changed."""
    findings.current = effective(yaml.safe_load(CONFIG.read_text()) or {})
    starts = []
    if LOG.is_file():
        for line in LOG.read_text(errors="replace").splitlines():
            match = BANNER.match(line)
            if match:
                starts.append((match.group(1), effective(json.loads(match.group(2)))))
    for i in range(len(starts) - 1, -1, -1):
        at, config = starts[i]
        if config != findings.current:
            findings.good, findings.good_since = config, at
            later = [t for t, c in starts[i + 1 :] if c == findings.current]
            findings.deployed_at = later[0] if later else None
            findings.changes = {
                key: (config[key], findings.current[key])
                for key in KEYS
                if config[key] != findings.current[key]
            }
            return


def probe(findings: Findings) -> None:
    """Documented-schema requests against the live service, noting every symptom."""
    if not wait_healthy():
        findings.detect("down", f"/health did not answer for {WAIT_S:g} s")
        return
    one = request("/predict", {"instances": spread(1, 1)})
    if one.status == 422:
        error = one.body.get("error") if isinstance(one.body, dict) else one.body
        findings.detect("schema", f"a documented-schema request is rejected: 422 {error}")
        return
    before = resident_bytes()
    batch = request("/predict", {"instances": spread(SPREAD_ROWS, 2)}, timeout=30)
    if batch.ok:
        labels, probabilities = batch.body["predictions"], batch.body["probabilities"]
        if len(set(labels)) == 1:
            findings.detect(
                "constant",
                f"{SPREAD_ROWS} varied customers all get prediction {labels[0]} "
                f"({len(set(probabilities))} distinct probabilities, e.g. {probabilities[0]}) "
                f"from model {batch.body.get('model')}",
            )
    times = [request("/predict", {"instances": spread(4, 10 + k)}).ms for k in range(3)]
    median = statistics.median(times)
    if median > SLO_MS:
        findings.detect(
            "latency",
            f"canary-sized requests take {median:.0f} ms (median of 3), SLO {SLO_MS:g} ms",
        )
    after = resident_bytes()
    if before is not None and after is not None:
        growth = after - before
        say(f"worker memory {before / 2**20:.0f} -> {after / 2**20:.0f} MiB over 4 requests")
        if growth > 4 * LEAK_BYTES_PER_REQUEST:
            findings.detect(
                "leak",
                f"worker memory grew {growth / 2**20:.0f} MiB over 4 requests "
                f"({before / 2**20:.0f} -> {after / 2**20:.0f} MiB resident)",
            )
    since = findings.deployed_at or ""
    lines = LOG.read_text(errors="replace").splitlines() if LOG.is_file() else []
    kills = [m.group(1) for m in map(OOM.match, lines) if m and m.group(1) >= since]
    if kills:
        findings.detect("oom", f"{len(kills)} OOM kills of the worker since the deploy")


# Symptoms in order of precedence, and the category each points to.
SYMPTOM_CAUSES = [
    ("schema", "config_schema_change"),
    ("constant", "bad_model_rollout"),
    ("oom", "memory_leak"),
    ("latency", "latency_regression"),
    ("leak", "memory_leak"),
]
# The config key a deploy changed, when the change caused no symptom yet (not restarted yet).
CHANGE_CAUSES = {
    "features": "config_schema_change",
    "model": "bad_model_rollout",
    "trace_requests": "memory_leak",
    "explain": "latency_regression",
}


def root_cause(findings: Findings) -> str:
    for symptom, cause in SYMPTOM_CAUSES:
        if symptom in findings.symptoms:
            return cause
    for key, cause in CHANGE_CAUSES.items():
        if key in findings.changes:
            return cause
    return "other"


def roll_back(findings: Findings) -> None:
    """Put the last known-good values back into config.yaml, keeping its comments; rewrite it
    whole only if the line edits do not give exactly the good config."""
    assert findings.good is not None
    good, text = findings.good, CONFIG.read_text()
    for key, (was, now_) in findings.changes.items():
        if key == "model":
            for part in ("name", "version"):
                pattern = rf"^(model:\s*\n(?:[ \t].*\n|\s*\n)*?[ \t]+{part}:[ \t]*)\S+"
                text = re.sub(pattern, rf"\g<1>{was[part]}", text, count=1, flags=re.M)
        elif key == "features" and len(was) == len(now_):
            for old, new in zip(now_, was, strict=True):
                if old != new:
                    pattern = rf"^(\s*-\s*){re.escape(old)}\b"
                    text = re.sub(pattern, rf"\g<1>{new}", text, count=1, flags=re.M)
        elif isinstance(was, bool):
            value = str(was).lower()
            text = re.sub(rf"^({key}:[ \t]*)\S+", rf"\g<1>{value}", text, count=1, flags=re.M)
    if effective(yaml.safe_load(text) or {}) != good:
        text = "# churn-svc configuration (restored from the last known-good start)\n"
        text += yaml.safe_dump(good, sort_keys=False)
    tmp = CONFIG.with_name("config.yaml.tmp")
    tmp.write_text(text)
    tmp.replace(CONFIG)
    changed = "; ".join(describe_change(k, b, a) for k, (a, b) in findings.changes.items())
    findings.note(f"rolled back service/config.yaml: {changed}")


def verify(rounds: int = 5, limit_s: float = 20.0) -> tuple[datetime | None, str]:
    """When the service started answering like a healthy one, ``rounds`` rounds in a row
    (within ``limit_s``): a canary-sized request within the SLO, both classes over the spread,
    and memory that does not grow with the requests."""
    deadline = time.monotonic() + limit_s
    streak: list[datetime] = []
    problem = "no round completed"
    before = resident_bytes()
    while time.monotonic() < deadline:
        at = now()
        canary = request("/predict", {"instances": spread(4, 100 + len(streak))}, timeout=2)
        batch = request("/predict", {"instances": spread(SPREAD_ROWS, 2)}, timeout=10)
        if not (canary.ok and canary.ms <= SLO_MS and batch.ok):
            problem = (
                f"canary HTTP {canary.status} in {canary.ms:.0f} ms, "
                f"{SPREAD_ROWS}-customer batch HTTP {batch.status}"
            )
        elif len(set(batch.body["predictions"])) < 2:
            problem = "one prediction for every customer"
        else:
            streak.append(at)
            if len(streak) == rounds:
                break
            time.sleep(0.3)
            continue
        streak, before = [], resident_bytes()
        time.sleep(0.5)
    if len(streak) < rounds:
        return None, problem
    after = resident_bytes()
    if before is None or after is None or after - before > rounds * LEAK_BYTES_PER_REQUEST:
        return None, f"memory still grows ({before} -> {after} bytes over {2 * rounds} requests)"
    growth = (after - before) / 2**20
    return streak[0], (
        f"{rounds} rounds in a row of a canary-sized request within {SLO_MS:g} ms and "
        f"{SPREAD_ROWS} varied customers getting both predictions; worker memory "
        f"{growth:+.1f} MiB meanwhile"
    )


PREVENTION = {
    "bad_model_rollout": [
        "Gate every model promotion on an offline evaluation the pipeline recomputes itself "
        "(AUC on a fixed holdout), and refuse a model that predicts a single class.",
        "Canary new model versions on a slice of traffic and compare the prediction "
        "distribution with the current version's before the full rollout.",
        "Alert when `modelsvc_predictions_total` shows one label only for several minutes.",
    ],
    "latency_regression": [
        "Load-test config changes in staging against the 250 ms SLO before they ship; "
        "`explain` needs a latency budget or an asynchronous path.",
        "Serve explanations from a separate, opt-in endpoint instead of on every prediction.",
        "Alert on `/predict` p95 latency above the SLO for one minute, and roll back "
        "automatically when a deploy trips it.",
    ],
    "memory_leak": [
        "Bound the request trace buffer (a ring buffer with a size cap) and keep "
        "`trace_requests` out of production configs by a config lint.",
        "Alert on worker restarts and on resident memory growth (e.g. +100 MiB in 5 minutes).",
        "Soak-test config changes for ten minutes at production load before the rollout.",
    ],
    "config_schema_change": [
        "Version the request schema: a feature rename must be a new API version, with the "
        "old names accepted until every client has migrated.",
        "Run a contract test with the documented request schema in CI and in the deploy "
        "pipeline, before the restart.",
        "Check at startup that the config's features match the model card's feature list.",
    ],
    "other": [
        "Alert on SLO burn rate so that regressions are seen within minutes.",
        "Record every deploy (config and model) in the service log with who shipped it.",
    ],
}

TITLES = {
    "bad_model_rollout": "a degenerate churn model was rolled out",
    "latency_regression": "a config push made every prediction slower than the SLO",
    "memory_leak": "request tracing leaked memory until the worker was OOM-killed",
    "config_schema_change": "a config push renamed an input feature and broke every client",
    "other": "churn-svc degraded",
}


def explain_cause(cause: str, findings: Findings) -> str:
    change = "; ".join(describe_change(k, a, b) for k, (a, b) in findings.changes.items())
    deploy = (
        f"A deploy changed `service/config.yaml` ({change}); the worker started with it at "
        f"{stamp(log_time(findings.deployed_at))}."
        if findings.deployed_at
        else f"A deploy changed `service/config.yaml` ({change})."
    )
    why = {
        "bad_model_rollout": "The new model version answers the same prediction for every "
        "customer: its MODEL_CARD claims a better AUC, but it never separates churners from "
        "the others, so every churner is answered wrong while requests still succeed fast.",
        "latency_regression": "With `explain: true` the worker computes Shapley values for "
        "every request (hundreds of model evaluations per feature coalition), which costs far "
        "more than the 250 ms SLO on one core; answers stay correct but too slow.",
        "memory_leak": "With `trace_requests: true` the worker keeps a working buffer of every "
        "request and never frees it; memory grows with each request until the kernel OOM-kills "
        "the worker at the container's limit, the supervisor restarts it, and it grows again: "
        "errors in bursts.",
        "config_schema_change": "The config's `features` list renamed an input feature, but "
        "clients still send the documented name, so the worker rejects every request with 422.",
        "other": "The evidence does not point at one of the known failure modes.",
    }[cause]
    return f"{deploy} {why}"


def write_postmortem(cause: str, findings: Findings, mitigated_at: datetime, how: str) -> None:
    assert findings.detected_at is not None and findings.good_since is not None
    since = stamp(log_time(findings.good_since))
    evidence = "\n".join(f"- {text}" for text in findings.symptoms.values())
    events = sorted(findings.timeline, key=lambda event: event[0])
    timeline = "\n".join(f"- {at} {text}" for at, text in events)
    prevention = "\n".join(f"- {item}" for item in PREVENTION[cause])
    seconds = (mitigated_at - findings.detected_at).total_seconds()
    POSTMORTEM.write_text(
        f"""---
root_cause: {cause}
detected_at: {stamp(findings.detected_at)}
mitigated_at: {stamp(mitigated_at)}
---

# Postmortem: {TITLES[cause]}

## Summary

churn-svc broke after a deploy: {TITLES[cause]}. Detected at {stamp(findings.detected_at)},
mitigated at {stamp(mitigated_at)} ({seconds:.0f} s later) by rolling `service/config.yaml`
back to the last known-good configuration and restarting the worker.

## Timeline

{timeline}

## Root cause

{explain_cause(cause, findings)}

Evidence:

{evidence}

## Mitigation

Rolled back the deploy's change in `service/config.yaml` to the values of the last known-good
start ({since}), keeping the file's comments, so that a fresh start of the service is
healthy too; restarted the worker with `svcctl restart`; verified: {how}.

## Prevention

{prevention}
"""
    )


def main() -> int:
    findings = Findings()
    findings.note("responder started")
    read_history(findings)
    if findings.changes:
        modified = datetime.fromtimestamp(CONFIG.stat().st_mtime, UTC)
        findings.timeline.append((stamp(modified), "service/config.yaml changed (file mtime)"))
        changed = "; ".join(describe_change(k, a, b) for k, (a, b) in findings.changes.items())
        findings.detect("config", f"config differs from the last known-good start: {changed}")
    probe(findings)
    if findings.changes and findings.deployed_at is None:
        read_history(findings)  # the worker may have started with the new config meanwhile
    if findings.deployed_at:
        started = stamp(log_time(findings.deployed_at))
        findings.timeline.append((started, "the worker started with the new config"))
    if not findings.symptoms:
        say("no symptom and no config change found: nothing to mitigate, no postmortem written")
        return 3
    cause = root_cause(findings)
    say(f"root cause: {cause}")
    if findings.good is None:
        say("no earlier start with a different config in the log: nothing to roll back to")
        return 1
    roll_back(findings)
    restart = subprocess.run(["svcctl", "restart"], capture_output=True, text=True)
    findings.note(f"svcctl restart: {(restart.stdout.strip().splitlines() or ['?'])[-1]}")
    if restart.returncode != 0 or not wait_healthy():
        say("the service did not come back healthy; see `svcctl logs`")
        return 1
    mitigated_at, how = verify()
    if mitigated_at is None:
        say(f"mitigation did not verify: {how}")
        return 1
    findings.note(f"service healthy again: {how}", mitigated_at)
    write_postmortem(cause, findings, mitigated_at, how)
    say(f"wrote {POSTMORTEM}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
