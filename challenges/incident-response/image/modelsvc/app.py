"""The churn model service's worker: HTTP on 127.0.0.1:8000, started (and restarted) by the
supervisor, which sends everything printed here to /workspace/service/logs/service.log.

At start it reads /workspace/service/config.yaml, logs the effective config as one
`startup config {...}` line (so two banners in the log show what a deploy changed), and loads
the model version the config names from the registry, models/<name>/<version>/. A config or
model it cannot use stops it with an `error:` line; the supervisor retries with a backoff.

    GET  /health    cheap liveness, never touches the model
    POST /predict   {"instances": [{feature: number, ...}, ...]} -> predictions, probabilities
    GET  /metrics   Prometheus text: requests, latency over the last minute, memory, model

Two config switches are for debugging and stay off in production: `explain` attaches exact
Shapley values to every answer (CPU-heavy: the model is evaluated on every coalition of
features against a background sample), and `trace_requests` keeps a working buffer of every
request in memory for the debug dump, for the life of the process.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

SERVICE_DIR = Path(os.environ.get("MODELSVC_DIR", "/workspace/service"))
HOST, PORT = "127.0.0.1", 8000
MAX_INSTANCES = 1024
LATENCY_WINDOW_S = 60.0
# Model evaluations one explained request may spend (~0.7 s of one core with the churn model):
# the background sample shrinks as instances grow, down to EXPLAIN_MIN_BACKGROUND rows.
EXPLAIN_BUDGET = 655_360
EXPLAIN_MIN_BACKGROUND = 16
EXPLAIN_CHUNK = 32  # coalitions evaluated per model call, to bound the memory it takes
TRACE_BUFFER_BYTES = 10 << 20

log = logging.getLogger("modelsvc")
# Request traces for the debug dump: one buffer per /predict, kept for the life of the process.
_traces: list[np.ndarray] = []


class StartupError(Exception):
    """The worker cannot serve with this config or model; the message says why."""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Config:
    model: dict[str, str]
    features: list[str]
    explain: bool
    trace_requests: bool

    @property
    def model_id(self) -> str:
        return f"{self.model['name']}/{self.model['version']}"


def load_config(path: Path) -> Config:
    """The config at ``path``, checked. Raises StartupError."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise StartupError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise StartupError(f"{path} must hold a mapping")
    model, features = raw.get("model"), raw.get("features")
    if not (
        isinstance(model, dict)
        and all(isinstance(model.get(key), str) and model[key] for key in ("name", "version"))
    ):
        raise StartupError(f"{path}: model must have a name and a version, got {model!r}")
    if (
        not isinstance(features, list)
        or not features
        or not all(isinstance(f, str) for f in features)
        or len(set(features)) != len(features)
    ):
        raise StartupError(f"{path}: features must be a list of distinct names, got {features!r}")
    flags = {key: raw.get(key, False) for key in ("explain", "trace_requests")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise StartupError(f"{path}: {key} must be true or false, got {value!r}")
    unknown = sorted(set(raw) - {"model", "features", *flags})
    if unknown:
        raise StartupError(f"{path}: unknown keys {unknown}")
    return Config(
        model={"name": model["name"], "version": model["version"]},
        features=list(features),
        explain=flags["explain"],
        trace_requests=flags["trace_requests"],
    )


def load_model(config: Config) -> tuple[Any, np.ndarray | None]:
    """The config's model and, when explanations are on, its background sample.

    Raises StartupError."""
    name, version = config.model["name"], config.model["version"]
    folder = SERVICE_DIR / "models" / name / version
    if not (folder / "model.joblib").is_file():
        versions = sorted(p.parent.name for p in folder.parent.glob("*/model.joblib"))
        raise StartupError(
            f"model {config.model_id} not found: no {folder / 'model.joblib'} "
            f"(versions of {name!r} in the registry: {', '.join(versions) or 'none'})"
        )
    model = joblib.load(folder / "model.joblib")
    width = getattr(model, "n_features_in_", None)
    if width != len(config.features):
        raise StartupError(
            f"model {config.model_id} takes {width} features; the config lists "
            f"{len(config.features)}"
        )
    if not config.explain:
        return model, None
    try:
        background = np.load(folder / "background.npy")
    except OSError as exc:
        raise StartupError(f"explain is on but the background sample is missing: {exc}") from exc
    return model, background


def parse_instances(payload: object, features: Sequence[str]) -> np.ndarray:
    """The request's instances as a float matrix in ``features`` order. Raises ApiError."""
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        raise ApiError(422, 'the body must be a JSON object {"instances": [{...}, ...]}')
    instances = payload["instances"]
    if not 1 <= len(instances) <= MAX_INSTANCES:
        raise ApiError(422, f"instances must hold 1 to {MAX_INSTANCES} rows, got {len(instances)}")
    wanted = set(features)
    x = np.empty((len(instances), len(features)))
    for i, row in enumerate(instances):
        if not isinstance(row, dict):
            raise ApiError(422, f"row {i}: expected an object of features, got {_short(row)}")
        problems = [f"missing feature {name!r}" for name in features if name not in row]
        problems += [f"unknown feature {name!r}" for name in row if name not in wanted]
        if problems:
            raise ApiError(422, f"row {i}: " + "; ".join(problems))
        for j, name in enumerate(features):
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ApiError(
                    422, f"row {i}: feature {name!r} must be a number, got {_short(value)}"
                )
            try:
                number = float(value)
            except OverflowError:  # an integer beyond float range
                number = math.inf
            if not math.isfinite(number):
                raise ApiError(422, f"row {i}: feature {name!r} must be finite, got {value}")
            x[i, j] = number
    return x


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def shapley_values(model: Any, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Exact interventional Shapley values of P(churn) for each row of ``x``: every coalition
    of features (2^f of them), the rest filled in from the background sample."""
    n, f = x.shape
    coalitions = np.arange(1 << f)
    masks = ((coalitions[:, None] >> np.arange(f)) & 1).astype(bool)
    sizes = masks.sum(axis=1)
    weights = np.array(
        [math.factorial(s) * math.factorial(f - s - 1) / math.factorial(f) for s in range(f)]
    )
    rows = max(EXPLAIN_MIN_BACKGROUND, EXPLAIN_BUDGET // (n * len(coalitions)))
    sample = background[:rows]
    phi = np.empty((n, f))
    value = np.empty(len(coalitions))
    for i in range(n):
        for c in range(0, len(coalitions), EXPLAIN_CHUNK):
            block = masks[c : c + EXPLAIN_CHUNK]
            grid = np.where(block[:, None, :], x[i], sample[None, :, :]).reshape(-1, f)
            value[c : c + len(block)] = (
                model.predict_proba(grid)[:, 1].reshape(len(block), -1).mean(axis=1)
            )
        for j in range(f):
            without = coalitions[(coalitions >> j) & 1 == 0]
            gain = value[without | (1 << j)] - value[without]
            phi[i, j] = float(np.sum(weights[sizes[without]] * gain))
    return phi


class Stats:
    """Counters and recent latencies for /metrics; touched only from the event loop."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.labels: Counter[int] = Counter()
        self.latencies: deque[tuple[float, float]] = deque()

    def record(self, path: str, status: int, ms: float) -> None:
        self.requests[(path, status)] += 1
        if path == "/predict":
            now = time.monotonic()
            self.latencies.append((now, ms))
            while self.latencies and self.latencies[0][0] < now - LATENCY_WINDOW_S:
                self.latencies.popleft()

    def quantile(self, q: float) -> float:
        recent = sorted(ms for _, ms in self.latencies)
        return recent[min(len(recent) - 1, int(q * len(recent)))] if recent else math.nan


def resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


Handler = Callable[[Request], Awaitable[Response]]


class Service:
    def __init__(self, config: Config, model: Any, background: np.ndarray | None) -> None:
        self.config = config
        self.model = model
        self.background = background
        self.stats = Stats()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/health", self.logged(self.health)),
                Route("/predict", self.logged(self.predict), methods=["POST"]),
                Route("/metrics", self.logged(self.metrics)),
            ]
        )

    def logged(self, handler: Handler) -> Handler:
        """One log line and one count per request; API errors become JSON error answers."""

        async def wrapped(request: Request) -> Response:
            start = time.perf_counter()
            detail = ""
            try:
                response = await handler(request)
            except ApiError as exc:
                response = JSONResponse({"error": exc.message}, status_code=exc.status)
                detail = f" error={json.dumps(exc.message)}"
            except Exception:
                log.exception("error: %s %s failed", request.method, request.url.path)
                response = JSONResponse({"error": "internal error"}, status_code=500)
            ms = (time.perf_counter() - start) * 1000
            self.stats.record(request.url.path, response.status_code, ms)
            log.info(
                "%s %s %d %.1fms%s",
                request.method,
                request.url.path,
                response.status_code,
                ms,
                detail,
            )
            return response

        return wrapped

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": self.config.model_id})

    async def predict(self, request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc}") from exc
        x = parse_instances(payload, self.config.features)
        if self.config.trace_requests:
            _traces.append(np.ones(TRACE_BUFFER_BYTES // 8))
        answer = await run_in_threadpool(self.infer, x)
        self.stats.labels.update(answer["predictions"])
        return JSONResponse(answer)

    def infer(self, x: np.ndarray) -> dict[str, Any]:
        labels = [int(v) for v in self.model.predict(x)]
        probabilities = [round(float(p), 6) for p in self.model.predict_proba(x)[:, 1]]
        answer: dict[str, Any] = {
            "predictions": labels,
            "probabilities": probabilities,
            "model": self.config.model_id,
        }
        if self.background is not None:
            phi = shapley_values(self.model, x, self.background)
            answer["explanations"] = [
                {
                    name: round(float(v), 6)
                    for name, v in zip(self.config.features, row, strict=True)
                }
                for row in phi
            ]
        return answer

    async def metrics(self, request: Request) -> Response:
        stats, model = self.stats, self.config.model
        lines = [
            "# HELP modelsvc_requests_total Requests answered, by path and status code.",
            "# TYPE modelsvc_requests_total counter",
            *(
                f'modelsvc_requests_total{{path="{path}",code="{code}"}} {count}'
                for (path, code), count in sorted(stats.requests.items())
            ),
            "# HELP modelsvc_predictions_total Instances predicted, by predicted label.",
            "# TYPE modelsvc_predictions_total counter",
            *(
                f'modelsvc_predictions_total{{label="{label}"}} {count}'
                for label, count in sorted(stats.labels.items())
            ),
            f"# HELP modelsvc_predict_latency_ms /predict latency over the last "
            f"{LATENCY_WINDOW_S:g} s.",
            "# TYPE modelsvc_predict_latency_ms summary",
            *(
                f'modelsvc_predict_latency_ms{{quantile="{q}"}} {stats.quantile(q):.1f}'
                for q in (0.5, 0.95, 0.99)
            ),
            f"modelsvc_predict_latency_ms_count {len(stats.latencies)}",
            "# HELP process_resident_memory_bytes Resident memory of the worker.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {resident_bytes()}",
            "# HELP modelsvc_model_info The model being served.",
            "# TYPE modelsvc_model_info gauge",
            f'modelsvc_model_info{{name="{model["name"]}",version="{model["version"]}"}} 1',
            "# HELP modelsvc_uptime_seconds Seconds since this worker started.",
            "# TYPE modelsvc_uptime_seconds gauge",
            f"modelsvc_uptime_seconds {time.monotonic() - stats.started:.1f}",
        ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    config_path = SERVICE_DIR / "config.yaml"
    try:
        config = load_config(config_path)
        log.info("startup config %s", json.dumps(asdict(config)))
        model, background = load_model(config)
    except StartupError as exc:
        log.error("error: %s", exc)
        sys.exit(2)
    log.info(
        "model %s loaded (%s, %d features); explain %s, trace_requests %s",
        config.model_id,
        type(model).__name__,
        len(config.features),
        "on" if config.explain else "off",
        "on" if config.trace_requests else "off",
    )
    service = Service(config, model, background)
    uvicorn.run(
        service.app(),
        host=HOST,
        port=PORT,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()
