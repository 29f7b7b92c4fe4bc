"""prodproven benchmarks: prints, from one run on this machine,

1. sandbox start-to-ready (pod + hardened workspace container, until a command runs in it)
   against a raw `docker run --rm IMAGE true` of the same image: medians and their ratio;
2. grading wall time of deploy-model's reference against the load windows it contains;
3. the load grader's p50/p95 against a service with a known fixed delay: error in %;
4. MLflow start-to-ready in a fresh pod, and fix-drift's whole run start (services, setup,
   workspace) until the candidate can work: medians;
5. fix-drift's notebook grading wall time against the time its cells spend executing;
6. the SLO prober's overhead (its container's CPU share of one core, and the service's, over
   30 s at one probe a second) and its injection-to-detection latency: from a fault's
   injection to the first unhealthy answer, and to that sample being in the store: medians;
7. the web app's response times over a store of 300 graded runs (the runs list, a run's
   detail page with its plots, the API's run list, the HTML report): medians, in-process;
8. grading wall time of capacity-plan's reference against its launch profile's length (the
   sum of the capacity grader's phase seconds): the overhead of starting the deployment and
   its balancer, the accuracy requests and the teardown;
9. grading wall time of review-ai-change's reference (the scripted reviewer's run, then graded
   again from its archive REPEAT times): median, against the issue's target of a minute, with
   each grader's share;
10. scale (only with --only scale, see benchmarks/scale.py): per built-in challenge, an
   interactive run's start-to-ready, cold and with a warm pool of 1 (against the 3 s goal), its
   idle memory and CPU and how many fit in the engine's memory; N idle deploy-model runs open
   at once; graded runs per hour at each concurrency.

Usage: .venv/bin/python benchmarks/run.py [--repeat N] [--only NAME]... [scale options]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.grading.evaluation import candidate_container
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.lifecycle.supervisor import RunSupervisor
from prodproven.runner.runs.schedule import Planned
from prodproven.runner.runs.services import start_services
from prodproven.runner.runs.store import Run, Store, utcnow
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.sandbox.docker_backend import DockerBackend, connect
from prodproven.sandbox.environment import Limits
from prodproven.sandbox.images import ImageBuilder

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout: the benchmarks use its challenges and test fixtures."""
DELAY_MS = 50
DELAY_SERVICE = f"""
import http.server, json, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self): self._send()
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep({DELAY_MS} / 1000)
        self._send()
    def _send(self):
        body = json.dumps({{"predictions": [0]}}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), H).serve_forever()
"""


def sandbox_start(client: Any, backend: DockerBackend, image: str, repeat: int) -> None:
    limits = Limits(2**30, 1.0, 256)
    ours, raw = [], []
    for i in range(repeat):
        t = time.perf_counter()
        client.containers.run(image, ["true"], remove=True, network_mode="none")
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        pod = backend.create_pod(f"bench{i}", "workspace")
        box = pod.add(
            candidate_container(
                "workspace", image, f"bench{i}", "workspace", limits, command=["sleep", "60"]
            )
        )
        box.start()
        box.exec(["true"], timeout=30)
        ours.append(time.perf_counter() - t)
        backend.remove_run(f"bench{i}")
    m_ours, m_raw = statistics.median(ours), statistics.median(raw)
    print(
        f"sandbox start-to-ready   median {m_ours * 1000:7.0f} ms  "
        f"(raw docker run {m_raw * 1000:.0f} ms, ratio {m_ours / m_raw:.2f}, n={repeat})"
    )


def _graded_reference(runner: Runner, name: str) -> tuple[Challenge, Run, float]:
    """The challenge ``name``'s reference, submitted and then graded: the graded run and the
    grading's wall time in seconds."""
    challenge = load_challenge(REPO_ROOT / "challenges" / name, plugins.catalog())
    run = runner.start(challenge, "bench", mode="scripted")
    runner.overlay(run.id, challenge.path("solution"))
    runner.submit(run.id)
    t = time.perf_counter()
    graded = runner.grade(run.id)
    return challenge, graded, time.perf_counter() - t


def grading_time(runner: Runner) -> None:
    challenge, graded, wall = _graded_reference(runner, "deploy-model")
    windows = sum(
        g.params["warmup_s"] + g.params["windows"] * g.params["window_s"]
        for g in challenge.spec.graders
        if g.kind == "load"
    )
    print(
        f"grading wall time        {wall:7.1f} s   (load windows {windows:.0f} s, "
        f"ratio {wall / windows:.2f}; score {graded.score})"
    )


def capacity_grading(runner: Runner) -> None:
    challenge, graded, wall = _graded_reference(runner, "capacity-plan")
    profile = sum(
        phase["seconds"]
        for g in challenge.spec.graders
        if g.kind == "capacity"
        for phase in g.params["phases"]
    )
    graders = {g["kind"]: g for g in (graded.result or {}).get("graders", [])}
    in_graders = sum(g["duration_s"] for g in graders.values())
    capacity = graders.get("capacity", {}).get("duration_s", 0.0)
    accuracy = graders.get("served-auc", {}).get("duration_s", 0.0)
    print(
        f"capacity-plan grading    {wall:7.1f} s   (launch profile {profile:.0f} s, ratio "
        f"{wall / profile:.2f}; capacity grader {capacity:.1f} s, accuracy {accuracy:.1f} s, "
        f"deploy + balancer + teardown {wall - in_graders:.1f} s; score {graded.score})"
    )


def review_grading(runner: Runner, repeat: int) -> None:
    challenge = load_challenge(REPO_ROOT / "challenges" / "review-ai-change", plugins.catalog())
    run = runner.run_scripted(challenge, challenge.path("solution"), candidate="bench")
    walls: list[float] = []
    for _ in range(repeat):
        t = time.perf_counter()
        graded = runner.grade(run.id)
        walls.append(time.perf_counter() - t)
    graders = (graded.result or {}).get("graders", [])
    shares = ", ".join(f"{g['name']} {g['duration_s']:.1f} s" for g in graders)
    print(
        f"review-ai-change grading median {statistics.median(walls):6.1f} s   (target 60 s; "
        f"{shares}; score {graded.score}; n={repeat})"
    )


def load_accuracy(runner: Runner, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fixed-delay"
        (root / "workspace").mkdir(parents=True)
        (root / "hidden").mkdir()
        (root / "image").mkdir()
        (root / "image" / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
        (root / "brief.md").write_text("benchmark\n")
        (root / "workspace" / "server.py").write_text(DELAY_SERVICE)
        (root / "hidden" / "payloads.json").write_text(json.dumps([{"instances": [[0]]}]))
        spec = {
            "id": "fixed-delay",
            "title": "fixed delay",
            "version": "1.0.0",
            "time_limit_minutes": 10,
            "competencies": ["optimization"],
            "service": {"command": ["python3", "/workspace/server.py"], "port": 8000},
            "graders": [
                {
                    "name": "load",
                    "kind": "load",
                    "competency": "optimization",
                    "params": {
                        "payloads": "payloads.json",
                        "rate": 20,
                        "users": 4,
                        "warmup_s": 2,
                        "windows": 3,
                        "window_s": 5,
                        "slo": {"p95_ms": 200},
                    },
                }
            ],
        }
        (root / "challenge.yaml").write_text(json.dumps(spec))
        challenge = load_challenge(root, plugins.catalog())
        p50s, p95s = [], []
        for _ in range(repeat):
            graded = runner.run_scripted(challenge, None, "bench")
            evidence = (graded.result or {})["graders"][0]["evidence"]
            p50s.append(evidence["p50_ms"])
            p95s.append(evidence["p95_ms"])
    for name, values in (("p50", p50s), ("p95", p95s)):
        med = statistics.median(values)
        print(
            f"load grader {name} vs {DELAY_MS} ms delay: median {med:6.1f} ms "
            f"(error {100 * (med - DELAY_MS) / DELAY_MS:+.1f}%, runs {values})"
        )


def mlflow_ready(runner: Runner, repeat: int) -> None:
    challenge = load_challenge(REPO_ROOT / "challenges" / "fix-drift", plugins.catalog())
    plans = runner.service_plans(challenge)
    alone, whole = [], []
    for i in range(repeat):
        t = time.perf_counter()
        pod = runner.backend.create_pod(f"benchml{i}", "workspace", hosts=["mlflow"])
        start_services(pod, plans)
        alone.append(time.perf_counter() - t)
        pod.remove()
        t = time.perf_counter()
        run = runner.start(challenge, "bench", mode="scripted")
        whole.append(time.perf_counter() - t)
        runner.backend.remove_run(run.id)
    print(
        f"mlflow start-to-ready    median {statistics.median(alone):7.1f} s   "
        f"(fix-drift run start incl. setup {statistics.median(whole):.1f} s, n={repeat})"
    )


def notebook_grading(runner: Runner) -> None:
    challenge = load_challenge(REPO_ROOT / "challenges" / "fix-drift", plugins.catalog())
    graded = runner.run_scripted(challenge, challenge.path("solution"), "bench")
    for g in (graded.result or {}).get("graders", []):
        if g["kind"] == "notebook":
            cells = sum(c["duration_s"] for c in g["evidence"]["cells"])
            print(
                f"notebook grading         {g['duration_s']:7.1f} s   (cells executing "
                f"{cells:.1f} s, overhead {g['duration_s'] - cells:.1f} s; score {graded.score})"
            )


def _cpu_seconds(client: Any, name: str) -> float:
    stats = client.containers.get(name).stats(stream=False)
    return float(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9


def prober(runner: Runner, client: Any, repeat: int, workdir: Path) -> None:
    root = workdir / "slo-lab"
    shutil.copytree(REPO_ROOT / "tests/integration/labs/slo-lab", root)
    shutil.copytree(REPO_ROOT / "challenges/deploy-model/image", root / "image")
    spec = yaml.safe_load((root / "challenge.yaml").read_text())
    spec["probe"]["interval_s"] = 1.0
    spec["schedule"] = []
    (root / "challenge.yaml").write_text(yaml.safe_dump(spec))
    lab = load_challenge(root, plugins.catalog())
    run = runner.start(lab, "bench")
    try:
        pod, workspace = runner.workspace(run.id)
        boxes = {box.role: box.name for box in pod.containers()}
        before = {role: _cpu_seconds(client, boxes[role]) for role in ("prober", "service")}
        t = time.perf_counter()
        time.sleep(30)
        wall = time.perf_counter() - t
        share = {r: (_cpu_seconds(client, boxes[r]) - before[r]) / wall for r in before}
        print(
            f"prober CPU share         {100 * share['prober']:7.2f} % of a core  (the service "
            f"answering its probes: {100 * share['service']:.2f} %; 1 probe/s)"
        )
        supervisor = RunSupervisor(runner, run.id)
        answered, stored = [], []
        for i in range(repeat):
            supervisor.poll_prober(pod)
            planned = Planned(event=f"bench{i}", fault="error", at=utcnow(), grace_s=60)
            supervisor.fire(planned, pod)
            injected = next(
                e.data["at"]
                for e in runner.store.events(run.id)
                if e.kind == "incident.injected" and e.data["event"] == planned.event
            )
            while True:
                supervisor.poll_prober(pod)
                samples = runner.store.samples(run.id)
                bad = [r for r in samples if r.t >= injected and (r.status or 0) >= 500]
                if bad:
                    stored.append(time.time() - injected)
                    answered.append(bad[0].t + (bad[0].latency_ms or 0) / 1000 - injected)
                    break
                time.sleep(supervisor.tick_s)
            workspace.exec(["bash", "-c", "echo ok > /workspace/mode"], timeout=10)
            time.sleep(2.3)
        print(
            f"prober detection         median {statistics.median(answered):7.2f} s   "
            f"(first unhealthy answer after injection; in the store after "
            f"{statistics.median(stored):.2f} s polled every 0.25 s; n={repeat})"
        )
    finally:
        runner.backend.remove_run(run.id)


BENCHMARKS = (
    "sandbox",
    "grading",
    "load",
    "mlflow",
    "notebook",
    "prober",
    "web",
    "capacity",
    "review",
    "scale",
)
DEFAULT = [name for name in BENCHMARKS if name != "scale"]
"""What runs without --only: scale takes long and needs the machine to itself."""


def web_pages(repeat: int, workdir: Path) -> None:
    from datetime import timedelta

    from fastapi.testclient import TestClient

    from prodproven.runner.portal.core import Portal
    from prodproven.runner.runs.store import Status
    from prodproven.runner.web.app import create_app
    from prodproven.runner.web.auth import ASSESSOR_COOKIE

    settings = Settings.from_env(data_dir=workdir / "web")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.store_url)
    document = json.loads(
        (REPO_ROOT / "tests/unit/fixtures/results/incident-response.json").read_text()
    )
    for index in range(300):
        run = store.create_run(
            challenge_id="incident-response",
            challenge_version="1.0.0",
            challenge_path=str(REPO_ROOT / "challenges/incident-response"),
            candidate=f"candidate {index}",
            mode="scripted",
        )
        for status in (Status.provisioning, Status.running, Status.submitted, Status.grading):
            store.transition(run.id, status)
        store.transition(
            run.id, Status.graded, score=document["score"] - index % 40, result=document
        )

    def no_runner(_: Any) -> Runner:
        raise RuntimeError("the benchmark starts no run")

    portal = Portal(settings, store, no_runner, supervise=lambda *_: 0)
    person = portal.accounts.add_assessor("bench@acme.test", "Bench", settings.firm, "x" * 12)
    cookie, _ = portal.records.accounts.open_session("assessor", str(person.id), timedelta(hours=1))
    _, secret = portal.accounts.create_token("bench@acme.test", "bench", ("read",))
    client = TestClient(create_app(portal), cookies={ASSESSOR_COOKIE: cookie})
    api = {"Authorization": f"Bearer {secret}"}
    pages = {
        "runs list (300 runs)": ("/runs", {}),
        "run detail with plots": (f"/runs/{run.id}", {}),
        "API GET /api/runs": ("/api/runs", api),
        "HTML report": (f"/runs/{run.id}/report.html", {}),
    }
    for name, (path, headers) in pages.items():
        times, size = [], 0
        for _ in range(repeat * 4):
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text[:300]
            size = len(response.content)
        print(f"web: {name}: median {statistics.median(times):.1f} ms ({size // 1024} KiB)")


def main() -> None:
    sys.path.insert(0, str(REPO_ROOT))  # run as a script: the package `benchmarks` importable
    from benchmarks import scale

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only these (repeatable)"
    )
    scale.add_options(parser)
    args = parser.parse_args()
    chosen = set(args.only or DEFAULT)
    if chosen == {"web"}:
        with tempfile.TemporaryDirectory() as data:
            web_pages(args.repeat, Path(data))
        return
    client = connect()
    with tempfile.TemporaryDirectory() as data:
        # No warm pool from the environment: cold starts stay cold (scale makes its own pool).
        settings = Settings.from_env(data_dir=Path(data), warm_pool="")
        images = ImageBuilder(client, settings.images())
        runtime = images.runtime()
        image = images.recipe(
            "challenge-deploy-model",
            REPO_ROOT / "challenges/deploy-model/image",
            parent=images.lab(),
        )
        backend = DockerBackend(client, runtime)
        store = Store(settings.store_url)
        runner = Runner(settings, store, backend, images, plugins.catalog(), plugins.graders())
        if "sandbox" in chosen:
            sandbox_start(client, backend, image, args.repeat)
        if "grading" in chosen:
            grading_time(runner)
        if "load" in chosen:
            load_accuracy(runner, max(3, args.repeat // 2))
        if "mlflow" in chosen:
            mlflow_ready(runner, max(3, args.repeat // 2))
        if "notebook" in chosen:
            notebook_grading(runner)
        if "prober" in chosen:
            prober(runner, client, args.repeat * 2, Path(data))
        if "web" in chosen:
            web_pages(args.repeat, Path(data))
        if "capacity" in chosen:
            capacity_grading(runner)
        if "review" in chosen:
            review_grading(runner, max(3, args.repeat // 2))
        if "scale" in chosen:
            scale.run(runner, client, settings, args)


if __name__ == "__main__":
    main()
