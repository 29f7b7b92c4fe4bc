"""The built-in cheats: what each builds for the built-in challenges, and that the cheat
server really would win if the sandbox leaked (so a zero in validation means something)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest

from prodproven.graders.probes import probe
from prodproven.runner import plugins
from prodproven.runner.gate import oracle
from prodproven.runner.gate.builtin_cheats import (
    ForgedOutputs,
    HardCoded,
    HiddenPaths,
    InflatedMetrics,
    Network,
)
from prodproven.runner.gate.cheats import Cheat, CheatContext, NotApplicable, Probe
from prodproven.runner.gate.oracle import OracleAddress
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.runner.spec.prepare import Material
from tests.conftest import BUILTIN, free_port

ORACLE = OracleAddress(hosts=("10.1.2.3",), port=4567, token="t0ken")
TRUTH = ["tenure_months", "monthly_charges"]

StartServer = Callable[[dict[str, object]], str]
"""The ``cheat_server`` fixture: starts the cheat server with a config, returns its URL."""


@pytest.fixture
def hidden(tmp_path: Path) -> Path:
    """Hidden material as the built-in challenges' prepare scripts would generate it."""
    root = tmp_path / "hidden"
    (root / "correctness").mkdir(parents=True)
    (root / "correctness" / "inputs.json").write_text(json.dumps([[1, 2], [3, 4], [5, 6]]))
    (root / "correctness" / "expected.json").write_text(json.dumps([1, 0, 0]))
    (root / "drift").mkdir()
    (root / "drift" / "truth.json").write_text(json.dumps(TRUTH))
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
    [(InflatedMetrics(), "deploy-model"), (ForgedOutputs(), "deploy-model")],
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

    def start(config: dict[str, object]) -> str:
        port = free_port()
        path = tmp_path / f"config-{port}.json"
        path.write_text(json.dumps({"bind": "127.0.0.1", "port": port, **config}))
        script = tmp_path / "server.py"
        script.write_bytes(probe("cheat_server.py"))
        procs.append(subprocess.Popen([sys.executable, str(script), str(path)]))
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
        "json_key": "predictions",
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
