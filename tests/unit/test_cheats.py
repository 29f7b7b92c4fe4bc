"""The built-in cheats: what each builds for the built-in challenges, and that the cheat
server really would win if the sandbox leaked (so a zero in validation means something)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from prodproven.graders.deployment import DeploymentInvalid, Quota, parse_deploy
from prodproven.graders.probes import probe
from prodproven.runner import plugins
from prodproven.runner.gate import oracle
from prodproven.runner.gate.builtin_cheats import (
    FlagEverything,
    ForgedOutputs,
    HardCoded,
    HiddenPaths,
    InflatedMetrics,
    Network,
    OverQuota,
)
from prodproven.runner.gate.cheats import Cheat, CheatContext, NotApplicable, Probe
from prodproven.runner.gate.oracle import OracleAddress
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.runner.spec.prepare import Material
from tests.conftest import BUILTIN, MakeChallenge, free_port

ORACLE = OracleAddress(hosts=("10.1.2.3",), port=4567, token="t0ken")
TRUTH = ["tenure_months", "monthly_charges"]

StartServer = Callable[..., str]
"""The ``cheat_server`` fixture: starts the cheat server with a config (and ``port_env``,
the value of ``PORT``, when given), returns its URL."""


@pytest.fixture
def hidden(tmp_path: Path) -> Path:
    """Hidden material as the built-in challenges' prepare scripts would generate it."""
    root = tmp_path / "hidden"
    (root / "correctness").mkdir(parents=True)
    (root / "correctness" / "inputs.json").write_text(json.dumps([[1, 2], [3, 4], [5, 6]]))
    (root / "correctness" / "expected.json").write_text(json.dumps([1, 0, 0]))
    (root / "drift").mkdir()
    (root / "drift" / "truth.json").write_text(json.dumps(TRUTH))
    (root / "accuracy").mkdir()
    bodies = [{"instances": [[1, 2], [3, 4]]}, {"instances": [[5, 6]]}]
    (root / "accuracy" / "requests.json").write_text(json.dumps(bodies))
    (root / "accuracy" / "labels.json").write_text(json.dumps([1, 0, 1]))
    return root


def context(name: str, hidden: Path, dest: Path) -> CheatContext:
    challenge: Challenge = load_challenge(BUILTIN / name, plugins.catalog())
    material = Material(workspace=(challenge.path("workspace"),), hidden=(hidden,), setup=())
    dest.mkdir()
    return CheatContext(challenge, material, ORACLE, dest)


def test_hard_coded_replaces_the_service_with_a_constant_answer_server(
    hidden: Path, tmp_path: Path
) -> None:
    ctx = context("deploy-model", hidden, tmp_path / "sub")
    probe = HardCoded().build(ctx)
    assert isinstance(probe, Probe)
    assert probe.attacks == ("correctness", "robustness", "load", "batch-load")
    config = json.loads((ctx.dest / ".cheat" / "config.json").read_text())
    # expected.json is [1, 0, 0]: the best constant answer is 0.
    assert (config["mode"], config["constant"], config["port"]) == ("constant", 0, 8000)
    assert "/workspace/.cheat/server.py" in (ctx.dest / "start.sh").read_text()


def test_hard_coded_attacks_only_the_postmortem_when_the_service_runs_from_the_image(
    hidden: Path, tmp_path: Path
) -> None:
    ctx = context("incident-response", hidden, tmp_path / "sub")
    probe = HardCoded().build(ctx)
    assert isinstance(probe, Probe) and probe.attacks == ("postmortem",)
    script = (ctx.dest / ".autopilot" / "run.sh").read_text()
    assert "cat > /workspace/postmortem.md" in script
    assert "root_cause: bad_model_rollout" in script and "mitigated_at: $(date" in script


def test_forged_outputs_keep_the_starter_code_and_save_the_truth_as_output(
    hidden: Path, tmp_path: Path
) -> None:
    ctx = context("fix-drift", hidden, tmp_path / "sub")
    probe = ForgedOutputs().build(ctx)
    assert isinstance(probe, Probe) and probe.attacks == ("drift-notebook",)
    starter = nbformat.read(BUILTIN / "fix-drift" / "workspace" / "drift_analysis.ipynb", 4)
    forged = nbformat.read(ctx.dest / "drift_analysis.ipynb", 4)
    tagged = [c for c in forged.cells if "drifted-features" in c.metadata.get("tags", [])]
    original = [c for c in starter.cells if "drifted-features" in c.metadata.get("tags", [])]
    assert tagged[-1].source == original[-1].source
    assert json.loads(tagged[-1].outputs[0]["text"]) == TRUTH


def test_hidden_paths_makes_the_tagged_cell_search_for_the_truth_file(
    hidden: Path, tmp_path: Path
) -> None:
    ctx = context("fix-drift", hidden, tmp_path / "sub")
    probe = HiddenPaths().build(ctx)
    assert isinstance(probe, Probe) and probe.attacks == ("drift-notebook",)
    nb = nbformat.read(ctx.dest / "drift_analysis.ipynb", 4)
    tagged = [c for c in nb.cells if "drifted-features" in c.metadata.get("tags", [])]
    assert "os.walk" in tagged[-1].source and "'truth.json'" in tagged[-1].source


def test_inflated_metrics_names_the_graded_model_alias_and_claimed_metric(
    hidden: Path, tmp_path: Path
) -> None:
    ctx = context("fix-drift", hidden, tmp_path / "sub")
    probe = InflatedMetrics().build(ctx)
    assert isinstance(probe, Probe) and probe.attacks == ("retrained-model",)
    targets = json.loads((ctx.dest / ".cheat" / "mlflow.json").read_text())
    assert targets == [{"model": "churn-model", "alias": "champion", "metric": "val_auc"}]
    assert (ctx.dest / ".autopilot" / "run.sh").stat().st_mode & 0o111


@pytest.mark.parametrize(
    ("cheat", "challenge"),
    [
        (InflatedMetrics(), "deploy-model"),
        (ForgedOutputs(), "deploy-model"),
        (FlagEverything(), "deploy-model"),
    ],
)
def test_a_cheat_without_a_grader_to_attack_does_not_apply(
    cheat: Cheat, challenge: str, hidden: Path, tmp_path: Path
) -> None:
    built = cheat.build(context(challenge, hidden, tmp_path / "sub"))
    assert isinstance(built, NotApplicable) and built.reason


def test_network_cheat_for_a_service_run_from_the_image_applies_to_nothing(
    hidden: Path, tmp_path: Path
) -> None:
    built = Network().build(context("incident-response", hidden, tmp_path / "sub"))
    assert isinstance(built, NotApplicable)
    assert "from the image" in built.reason and "no notebook grader" in built.reason


@pytest.fixture
def cheat_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start graders/probes/cheat_server.py on the loopback with a given config."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(config: dict[str, object], port_env: int | None = None) -> str:
        port = port_env or free_port()
        path = tmp_path / f"config-{port}.json"
        configured = free_port() if port_env else port
        path.write_text(json.dumps({"bind": "127.0.0.1", "port": configured, **config}))
        script = tmp_path / "server.py"
        script.write_bytes(probe("cheat_server.py"))
        env = {**os.environ, "PORT": str(port_env or "")}
        procs.append(subprocess.Popen([sys.executable, str(script), str(path)], env=env))
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/health", timeout=1).close()
                return url
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the cheat server never answered")

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _predict(url: str, instances: list[object]) -> tuple[int, object]:
    body = json.dumps({"instances": instances}).encode()
    request = urllib.request.Request(url + "/predict", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, None


def _config(mode: str, address: OracleAddress, **extra: object) -> dict[str, object]:
    return {
        "mode": mode,
        "constant": 0,
        "keys": ["predictions"],
        "hidden": ["correctness/inputs.json", "correctness/expected.json"],
        "oracle": {"hosts": list(address.hosts), "port": address.port, "token": address.token},
        **extra,
    }


def test_the_network_cheat_answers_right_when_it_can_reach_the_answer_server(
    cheat_server: StartServer,
) -> None:
    key = {"files": {"correctness/inputs.json": [[1, 2]], "correctness/expected.json": [7]}}
    with oracle.serving(key) as served:
        token = served.address("network").token
        url = cheat_server(_config("network", OracleAddress(("127.0.0.1",), served.port, token)))
        assert _predict(url, [[1, 2]]) == (200, {"predictions": [7]})
        assert [hit["path"] for hit in served.hits_of("network")] == ["/key"]


def test_the_network_cheat_answers_503_when_nothing_is_reachable(cheat_server: StartServer) -> None:
    url = cheat_server(_config("network", OracleAddress(("127.0.0.1",), free_port(), "x")))
    assert _predict(url, [[1, 2]])[0] == 503


def test_the_hidden_paths_cheat_answers_right_when_the_hidden_files_are_on_disk(
    cheat_server: StartServer, hidden: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    shutil.copytree(hidden, disk / "grading")
    url = cheat_server(_config("hidden", ORACLE, search_root=str(disk)))
    assert _predict(url, [[3, 4], [1, 2]]) == (200, {"predictions": [0, 1]})


def test_the_network_cell_prints_the_truth_when_it_can_reach_the_answer_server(
    hidden: Path, tmp_path: Path
) -> None:
    with oracle.serving({"files": {"drift/truth.json": TRUTH}}) as served:
        token = served.address("network").token
        challenge = load_challenge(BUILTIN / "fix-drift", plugins.catalog())
        material = Material(workspace=(challenge.path("workspace"),), hidden=(hidden,), setup=())
        address = OracleAddress(("127.0.0.1",), served.port, token)
        ctx = CheatContext(challenge, material, address, tmp_path)
        assert isinstance(Network().build(ctx), Probe)
        nb = nbformat.read(ctx.dest / "drift_analysis.ipynb", 4)
        cell = [c for c in nb.cells if "drifted-features" in c.metadata.get("tags", [])][-1]
        ran = subprocess.run(
            [sys.executable, "-I", "-c", cell.source], capture_output=True, text=True, timeout=30
        )
    assert json.loads(ran.stdout) == TRUTH


def test_each_replica_of_a_deployment_serves_the_cheat_on_the_port_it_is_told(
    cheat_server: StartServer,
) -> None:
    port = free_port()
    url = cheat_server(_config("constant", ORACLE), port_env=port)
    assert url.endswith(f":{port}") and _predict(url, [[1, 2]]) == (200, {"predictions": [0]})


def test_the_hidden_paths_cheat_unpacks_request_bodies_and_answers_under_every_key(
    cheat_server: StartServer, hidden: Path, tmp_path: Path
) -> None:
    shutil.copytree(hidden, tmp_path / "disk" / "grading")
    config = _config(
        "hidden",
        ORACLE,
        search_root=str(tmp_path / "disk"),
        keys=["predictions", "probabilities"],
        hidden=["accuracy/requests.json", "accuracy/labels.json"],
    )
    url = cheat_server(config)
    assert _predict(url, [[5, 6], [3, 4]]) == (
        200,
        {"predictions": [1, 0], "probabilities": [1, 0]},
    )


REFERENCE_DEPLOY = "model: models/medium.joblib\nreplicas: 2\ncpus: 0.5\nmemory_mb: 512\n"
QUOTA = {"cpus": 2.0, "memory_mb": 8192}


def deployed(
    make_challenge: MakeChallenge, hidden: Path, dest: Path, quota: dict[str, float] = QUOTA
) -> CheatContext:
    """deploy-model whose service runs as the deployment its reference declares."""

    def add(spec: dict[str, Any]) -> None:
        spec["service"]["deployment"] = {"quota": quota}

    root = make_challenge(add)
    (root / "solution" / "deploy.yaml").write_text(REFERENCE_DEPLOY)
    challenge = load_challenge(root, plugins.catalog())
    material = Material(workspace=(challenge.path("workspace"),), hidden=(hidden,), setup=())
    dest.mkdir()
    return CheatContext(challenge, material, ORACLE, dest)


def test_over_quota_declares_the_largest_deployment_serving_the_references_model(
    make_challenge: MakeChallenge, hidden: Path, tmp_path: Path
) -> None:
    ctx = deployed(make_challenge, hidden, tmp_path / "sub")
    probe = OverQuota().build(ctx)
    assert isinstance(probe, Probe) and probe.fails_run
    assert probe.attacks == ("correctness", "robustness", "load", "batch-load")
    text = (ctx.dest / "deploy.yaml").read_text()
    assert yaml.safe_load(text) == {
        "model": "models/medium.joblib",
        "replicas": 4,
        "cpus": 2.0,
        "memory_mb": 2048,
    }
    with pytest.raises(DeploymentInvalid, match="8 cpus, above the quota of 2"):
        parse_deploy(text, Quota(cpus=2.0, memory_mb=8192), models_dir="models")
    assert "above the quota of 2" in probe.how


def test_over_quota_does_not_apply_when_the_quota_admits_the_largest_deployment(
    make_challenge: MakeChallenge, hidden: Path, tmp_path: Path
) -> None:
    roomy = {"cpus": 8.0, "memory_mb": 8192}
    built = OverQuota().build(deployed(make_challenge, hidden, tmp_path / "sub", roomy))
    assert isinstance(built, NotApplicable) and "admits the largest deployment" in built.reason


def test_over_quota_does_not_apply_to_a_service_without_a_deployment(
    hidden: Path, tmp_path: Path
) -> None:
    built = OverQuota().build(context("deploy-model", hidden, tmp_path / "sub"))
    assert built == NotApplicable("the service declares no deployment")


def test_a_service_cheat_replaces_the_start_script_every_replica_runs(
    make_challenge: MakeChallenge, hidden: Path, tmp_path: Path
) -> None:
    ctx = deployed(make_challenge, hidden, tmp_path / "sub")
    assert isinstance(HiddenPaths().build(ctx), Probe)
    assert "/workspace/.cheat/server.py" in (ctx.dest / "start.sh").read_text()
    assert not (ctx.dest / "deploy.yaml").exists()


def served(spec: dict[str, Any]) -> None:
    """deploy-model's spec made a served-accuracy challenge: accuracy (served-auc), the load
    test counting only for it, and the deployment's cost counting only for the load test."""
    load = next(g for g in spec["graders"] if g["name"] == "load")
    accuracy = {"requests": "accuracy/requests.json", "labels": "accuracy/labels.json"}
    sizing = {"replicas": 1, "cpus": 0.5, "memory_mb": 512}
    spec["graders"] = [
        {"name": "accuracy", "kind": "served-auc", "competency": "optimization",
         "params": {**accuracy, "floor": 0.85}},
        {**load, "requires": ["accuracy"]},
        {"name": "cost", "kind": "cost", "competency": "infrastructure", "requires": ["load"],
         "params": {"pricing": "pricing.json", "reference": sizing,
                    "zero_at": {**sizing, "replicas": 4}}},
    ]  # fmt: skip
    spec["competencies"] = ["optimization", "infrastructure"]
    spec["requirements"] = [{"name": "AUC at the floor", "grader": "accuracy"}]
    spec.pop("calibration")


def test_a_hard_coded_service_answers_the_majority_label_as_predictions_and_probabilities(
    make_challenge: MakeChallenge, hidden: Path, tmp_path: Path
) -> None:
    challenge = load_challenge(make_challenge(served), plugins.catalog())
    material = Material(workspace=(challenge.path("workspace"),), hidden=(hidden,), setup=())
    ctx = CheatContext(challenge, material, ORACLE, tmp_path)
    probe = HardCoded().build(ctx)
    assert isinstance(probe, Probe) and probe.attacks == ("accuracy", "load", "cost")
    config = json.loads((ctx.dest / ".cheat" / "config.json").read_text())
    assert config["keys"] == ["predictions", "probabilities"] and config["constant"] == 1
    assert config["hidden"] == ["accuracy/requests.json", "accuracy/labels.json"]


@pytest.mark.parametrize("cheat", [HiddenPaths(), Network(), HardCoded()])
def test_capacity_plans_service_cheats_attack_what_the_served_answers_count_for(
    cheat: Cheat, hidden: Path, tmp_path: Path
) -> None:
    ctx = context("capacity-plan", hidden, tmp_path / "sub")
    probe = cheat.build(ctx)
    assert isinstance(probe, Probe)
    assert {"capacity", "accuracy", "cost"} <= set(probe.attacks)
    config = json.loads((ctx.dest / ".cheat" / "config.json").read_text())
    assert config["keys"] == ["predictions", "probabilities"]
    assert config["hidden"] == ["accuracy/requests.json", "accuracy/labels.json"]
    assert "/workspace/.cheat/server.py" in (ctx.dest / "service" / "start.sh").read_text()


def test_capacity_plans_over_quota_cheat_attacks_every_grader_needing_the_deployment(
    hidden: Path, tmp_path: Path
) -> None:
    probe = OverQuota().build(context("capacity-plan", hidden, tmp_path / "sub"))
    assert isinstance(probe, Probe) and probe.fails_run
    assert {"capacity", "accuracy", "cost"} <= set(probe.attacks)


def reviewed(spec: dict[str, Any]) -> None:
    """deploy-model's spec given a review grader, and the load test made to require it."""
    load = next(g for g in spec["graders"] if g["name"] == "load")
    params = {"file": "notes/review.md", "categories": ["security", "concurrency"]}
    spec["graders"] = [
        {"name": "review", "kind": "review", "competency": "ai_judgment", "params": params},
        {**load, "requires": ["review"]},
    ]
    spec["competencies"] = ["ai_judgment", load["competency"]]
    spec["requirements"] = []
    spec.pop("calibration")


def git(repo: Path, *args: str) -> None:
    who = ["-c", "user.name=Code Assistant", "-c", "user.email=assistant@example.invalid"]
    subprocess.run(["git", *who, "-C", str(repo), *args], check=True, capture_output=True)


def pull_request(repo: Path) -> None:
    """A repository whose branch ``ai/change`` changes line 2 of a.py, adds lines 6 and 7 to
    it, adds pkg/b.py (3 lines) and deletes old.py, against ``main``."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.py").write_text("".join(f"x{n} = {n}\n" for n in range(1, 6)))
    (repo / "old.py").write_text("gone = True\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "checkout", "-q", "-b", "ai/change")
    (repo / "a.py").write_text("x1 = 1\nx2 = 'two'\nx3 = 3\nx4 = 4\nx5 = 5\nx6 = 6\nx7 = 7\n")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "b.py").write_text("import os\n\nPATH = os.sep\n")
    (repo / "old.py").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feature")


def test_flag_everything_writes_a_blocker_on_every_line_the_pull_request_changed(
    make_challenge: MakeChallenge, tmp_path: Path
) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    manifest = {"repo": "repo", "base": "main", "head": "ai/change", "defects": []}
    (hidden / "manifest.json").write_text(json.dumps(manifest))
    challenge = load_challenge(make_challenge(reviewed), plugins.catalog())
    material = Material(workspace=(challenge.path("workspace"),), hidden=(hidden,), setup=())
    workspace = tmp_path / "workspace"
    probe = FlagEverything().build(CheatContext(challenge, material, ORACLE, workspace))
    assert isinstance(probe, Probe) and probe.attacks == ("review", "load")
    pull_request(workspace / "repo")
    (workspace / "notes").mkdir()
    ran = subprocess.run(
        ["bash", ".autopilot/run.sh"], cwd=workspace, capture_output=True, text=True, check=True
    )
    assert "flagged 6 changed lines" in ran.stdout
    front = (workspace / "notes" / "review.md").read_text().split("---\n")[1]
    review = yaml.safe_load(front)
    assert review["verdict"] == "request_changes"
    flagged = [(f["file"], f["line"], f["category"], f["severity"]) for f in review["findings"]]
    assert flagged == [
        ("a.py", 2, "security", "blocker"),
        ("a.py", 6, "concurrency", "blocker"),
        ("a.py", 7, "security", "blocker"),
        ("pkg/b.py", 1, "concurrency", "blocker"),
        ("pkg/b.py", 2, "security", "blocker"),
        ("pkg/b.py", 3, "concurrency", "blocker"),
    ]
