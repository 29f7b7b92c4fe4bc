"""The search-service cheats: what each builds for serve-retrieval, that they do not apply
elsewhere, and that their servers really would win if the graded questions were the examples,
the sandbox leaked or the load test repeated itself (so a zero in validation means something)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from prodproven.graders.probes import probe
from prodproven.runner import plugins
from prodproven.runner.gate import oracle
from prodproven.runner.gate.builtin_cheats import HardCoded, HiddenPaths, Network
from prodproven.runner.gate.cheats import Cheat, CheatContext, NotApplicable, Probe
from prodproven.runner.gate.oracle import OracleAddress
from prodproven.runner.gate.search_cheats import DevAnswers, QueryCache
from prodproven.runner.spec.challenge import load_challenge
from prodproven.runner.spec.prepare import Material
from tests.conftest import BUILTIN, free_port

ORACLE = OracleAddress(hosts=("10.1.2.3",), port=4567, token="t0ken")
DEV = [{"query": "how do I rotate keys?", "relevant": ["d00007"]}]
JUDGED = [{"query": "why are callbacks late?", "relevant": ["d00042", "d00043"]}]

Serve = Callable[[str, Mapping[str, object]], str]
"""The ``serve`` fixture: starts a probe script with a config, returns its URL."""


@pytest.fixture
def generated(tmp_path: Path) -> Material:
    """serve-retrieval's generated material: a workspace with the example questions and a
    corpus, and the hidden relevance judgments."""
    workspace, hidden = tmp_path / "generated" / "workspace", tmp_path / "generated" / "hidden"
    (workspace / "queries").mkdir(parents=True)
    (workspace / "queries" / "dev.jsonl").write_text("".join(json.dumps(q) + "\n" for q in DEV))
    (workspace / "corpus").mkdir()
    docs = [{"id": f"d{n:05d}", "title": "t", "text": "x"} for n in range(1, 13)]
    (workspace / "corpus" / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (hidden / "relevance").mkdir(parents=True)
    (hidden / "relevance" / "queries.json").write_text(json.dumps(JUDGED))
    return Material(workspace=(workspace,), hidden=(hidden,), setup=())


def context(name: str, generated: Material, dest: Path) -> CheatContext:
    challenge = load_challenge(BUILTIN / name, plugins.catalog())
    starter = (challenge.path("workspace"), *generated.workspace)
    material = Material(workspace=starter, hidden=generated.hidden, setup=())
    dest.mkdir()
    return CheatContext(challenge, material, ORACLE, dest)


def config_of(ctx: CheatContext) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((ctx.dest / ".cheat" / "config.json").read_text())
    return loaded


def test_dev_answers_attacks_relevance_and_the_load_with_the_examples(
    generated: Material, tmp_path: Path
) -> None:
    ctx = context("serve-retrieval", generated, tmp_path / "sub")
    built = DevAnswers().build(ctx)
    assert isinstance(built, Probe) and built.attacks == ("relevance", "load")
    config = config_of(ctx)
    assert config["mode"] == "dev-answers" and config["dev"] == "/workspace/queries/dev.jsonl"
    assert (ctx.dest / ".cheat" / "server.py").read_bytes() == probe("cheat_search_server.py")
    assert "/workspace/.cheat/server.py" in (ctx.dest / "start.sh").read_text()


def test_query_cache_wraps_the_starter_and_attacks_only_the_load(
    generated: Material, tmp_path: Path
) -> None:
    ctx = context("serve-retrieval", generated, tmp_path / "sub")
    built = QueryCache().build(ctx)
    assert isinstance(built, Probe) and built.attacks == ("load",)
    assert config_of(ctx) == {"port": 8000, "workspace": "/workspace"}
    assert (ctx.dest / ".cheat" / "server.py").read_bytes() == probe("cheat_query_cache.py")


@pytest.mark.parametrize(
    ("cheat", "mode"),
    [(HiddenPaths(), "hidden"), (Network(), "network"), (HardCoded(), "constant")],
)
def test_the_service_cheats_on_a_search_service_fake_its_relevance(
    cheat: Cheat, mode: str, generated: Material, tmp_path: Path
) -> None:
    ctx = context("serve-retrieval", generated, tmp_path / "sub")
    built = cheat.build(ctx)
    assert isinstance(built, Probe) and built.attacks == ("relevance",)
    assert config_of(ctx)["hidden"] == "relevance/queries.json"
    assert config_of(ctx)["mode"] == mode
    assert (ctx.dest / ".cheat" / "server.py").read_bytes() == probe("cheat_search_server.py")


@pytest.mark.parametrize("cheat", [DevAnswers(), QueryCache()])
def test_search_cheats_do_not_apply_without_a_search_grader(
    cheat: Cheat, generated: Material, tmp_path: Path
) -> None:
    built = cheat.build(context("deploy-model", generated, tmp_path / "sub"))
    assert isinstance(built, NotApplicable) and "grader" in built.reason
    assert not any((tmp_path / "sub").iterdir())


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start a probe script on the loopback with a given config."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(script: str, config: Mapping[str, object]) -> str:
        port = free_port()
        path = tmp_path / f"config-{port}.json"
        path.write_text(json.dumps({"bind": "127.0.0.1", "port": port, **config}))
        (tmp_path / script).write_bytes(probe(script))
        env = {k: v for k, v in os.environ.items() if k != "PORT"}
        procs.append(subprocess.Popen([sys.executable, str(tmp_path / script), str(path)], env=env))
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/health", timeout=1).close()
                return url
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"{script} never answered")

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def post(url: str, body: object) -> tuple[int, object]:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def ids(answer: object) -> list[str]:
    assert isinstance(answer, dict)
    return [hit["id"] for hit in answer["results"]]


def test_the_dev_answers_server_knows_the_examples_and_nothing_else(
    serve: Serve, generated: Material
) -> None:
    workspace = generated.workspace[0]
    config = {
        "mode": "dev-answers",
        "dev": str(workspace / "queries" / "dev.jsonl"),
        "corpus": str(workspace / "corpus" / "docs.jsonl"),
        "hidden": "relevance/queries.json",
    }
    url = serve("cheat_search_server.py", config)
    status, answer = post(url + "/search", {"query": DEV[0]["query"], "k": 3})
    assert status == 200 and ids(answer) == ["d00007"]
    status, answer = post(url + "/search", {"query": "anything else"})
    assert ids(answer) == [f"d{n:05d}" for n in range(1, 11)]
    assert post(url + "/search", {"query": 5})[0] == 422
    assert post(url + "/documents", {"documents": [{}, {}]}) == (200, {"indexed": 2})


def test_the_hidden_search_server_answers_from_judgments_on_disk_else_503(
    serve: Serve, generated: Material, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    shutil.copytree(generated.hidden[0], disk / "grading")
    config = {"mode": "hidden", "hidden": "relevance/queries.json"}
    url = serve("cheat_search_server.py", {**config, "search_root": str(disk)})
    assert ids(post(url + "/search", {"query": JUDGED[0]["query"]})[1]) == ["d00042", "d00043"]
    empty = tmp_path / "empty"
    empty.mkdir()
    url = serve("cheat_search_server.py", {**config, "search_root": str(empty)})
    assert post(url + "/search", {"query": JUDGED[0]["query"]})[0] == 503


def test_the_network_search_server_answers_from_the_answer_server_when_it_can_reach_it(
    serve: Serve,
) -> None:
    key = {"files": {"relevance/queries.json": JUDGED}}
    with oracle.serving(key) as served:
        where = {"hosts": ["127.0.0.1"], "port": served.port, "token": served.address("n").token}
        config = {"mode": "network", "hidden": "relevance/queries.json", "oracle": where}
        url = serve("cheat_search_server.py", config)
        assert ids(post(url + "/search", {"query": JUDGED[0]["query"]})[1]) == ["d00042", "d00043"]
        assert [hit["path"] for hit in served.hits_of("n")] == ["/key"]


STARTER = """
from fastapi import FastAPI, Request
app = FastAPI()
calls = []
@app.get("/health")
def health():
    return {"calls": len(calls)}
@app.post("/search")
async def search(request: Request):
    calls.append(await request.json())
    return {"results": [{"id": "d%05d" % len(calls), "score": 1.0}]}
"""


def test_the_query_cache_answers_a_repeated_query_without_asking_the_starter(
    serve: Serve, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "app.py").write_text(STARTER)
    url = serve("cheat_query_cache.py", {"workspace": str(workspace)})
    first = post(url + "/search", {"query": "q", "k": 10})
    assert post(url + "/search", {"query": "q", "k": 10}) == first == (200, first[1])
    assert ids(post(url + "/search", {"query": "new", "k": 10})[1]) == ["d00002"]
    with urllib.request.urlopen(url + "/health", timeout=5) as resp:
        assert json.loads(resp.read()) == {"calls": 2}
