"""A run's MLflow through the web app, against the real engine: the candidate's browser gets
MLflow's page, its scripts and its ajax-api answers under /candidate/tools/mlflow/, an artifact
the candidate logged comes sandboxed, and nobody else gets any of it. Once the run is graded, an
assessor reads its MLflow restored from the archive, read-only, under /runs/RUN/tools/mlflow/.

The run is one of the MLflow lab (tests/integration/labs/mlflow-lab, fix-drift's image), served
by ``prodproven serve``'s app under uvicorn in a thread.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.runs.store import Run, Status
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.runner.web.app import create_app
from prodproven.runner.web.proxy import BANNER
from prodproven.runner.web.upstream import SANDBOX
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN, free_port
from tests.integration.conftest import runner_for
from tests.integration.test_mlflow_and_notebooks import LAB

pytestmark = pytest.mark.docker

M = "/candidate/tools/mlflow/"
LOG = """
import mlflow
client = mlflow.MlflowClient()
client.create_registered_model("proxied-model")
mlflow.set_experiment("proxied")
with mlflow.start_run() as run:
    mlflow.log_text("<script>document.title = 'ran'</script>", "page.html")
print(run.info.run_id)
"""


@pytest.fixture(scope="module")
def lab_runner(
    images: ImageBuilder, runtime_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Runner:
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("tools-data"))
    return runner_for(settings, images, runtime_image)


@pytest.fixture(scope="module")
def running(lab_runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("labs") / "mlflow-lab"
    shutil.copytree(LAB, root)
    shutil.copytree(BUILTIN / "fix-drift" / "image", root / "image")
    lab: Challenge = load_challenge(root, plugins.catalog())
    run = lab_runner.start(lab, "ada")
    yield run
    lab_runner.backend.remove_run(run.id)


@pytest.fixture(scope="module")
def logged(lab_runner: Runner, running: Run) -> str:
    """A registered model and a run with an HTML artifact, logged from the workspace; the
    MLflow run's id."""
    _, workspace = lab_runner.workspace(running.id)
    done = workspace.exec(["python", "-c", LOG], timeout=120)
    assert done.ok, done.stderr
    return done.stdout.split()[-1]


@pytest.fixture(scope="module")
def app(lab_runner: Runner, running: Run) -> Iterator[tuple[str, Portal]]:
    port = free_port()
    settings = lab_runner.settings.model_copy(update={"web_port": port})
    portal = Portal(settings, lab_runner.store, lambda _: lab_runner, supervise=lambda *_: 0)
    config = uvicorn.Config(create_app(portal), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", portal
    server.should_exit = True
    thread.join(timeout=15)


def candidate(app: tuple[str, Portal], name: str, run: Run | None) -> httpx.Client:
    """A browser-like client that opened an invitation (holding ``run``, if any); the caller
    closes it."""
    base, portal = app
    invitation, link = portal.invitations.invite(
        Actor("lead@acme.test", "acme"), "fix-drift", name, f"{name.lower()}@x.test"
    )
    if run is not None:
        portal.records.invitations.attach_run(invitation.id, run.id)
    client = httpx.Client(base_url=base, trust_env=False, timeout=60)
    path = link.removeprefix(portal.settings.base_url)
    button = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert button is not None, "the invitation page has no button"
    assert client.post(path, data={"csrf": button.group(1)}).status_code == 303
    return client


@pytest.fixture(scope="module")
def browser(app: tuple[str, Portal], running: Run) -> Iterator[httpx.Client]:
    client = candidate(app, "Ada", running)
    yield client
    client.close()


def test_mlflows_page_scripts_and_api_answer_under_the_prefix(
    browser: httpx.Client, logged: str
) -> None:
    page = browser.get(M)
    assert page.status_code == 200 and "<title>MLflow</title>" in page.text
    assert "sandbox" not in page.headers.get("content-security-policy", "")
    assets = re.findall(r'(?:src|href)="\.?/?(static-files/[^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert browser.get(M + asset).status_code == 200, asset
    found = browser.get(f"{M}ajax-api/2.0/mlflow/registered-models/search")
    assert found.status_code == 200, found.text
    assert "proxied-model" in [m["name"] for m in found.json()["registered_models"]]
    origin = {"Origin": str(browser.base_url).rstrip("/")}  # what a browser's fetch sends
    runs = browser.post(
        f"{M}ajax-api/2.0/mlflow/experiments/search", json={"max_results": 10}, headers=origin
    )
    assert runs.status_code == 200, runs.text
    assert "proxied" in [e["name"] for e in runs.json()["experiments"]]


def test_an_artifact_the_candidate_logged_comes_sandboxed(
    browser: httpx.Client, logged: str
) -> None:
    artifact = browser.get(f"{M}get-artifact", params={"path": "page.html", "run_uuid": logged})
    assert artifact.status_code == 200 and "document.title" in artifact.text
    assert SANDBOX in artifact.headers.get_list("content-security-policy")
    assert artifact.headers["x-content-type-options"] == "nosniff"


def test_nobody_else_reaches_the_candidates_mlflow(
    app: tuple[str, Portal], browser: httpx.Client
) -> None:
    base, _ = app
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as stranger:
        assert stranger.get(M).status_code == 401
    other = candidate(app, "Gus", None)  # another candidate, without a run
    refused = other.get(M)
    other.close()
    assert refused.status_code == 409 and "start the challenge first" in refused.text
    evil = browser.post(
        f"{M}ajax-api/2.0/mlflow/registered-models/create",
        json={"name": "planted"},
        headers={"Origin": "https://evil.test"},
    )
    assert evil.status_code == 403


def test_jupyterlabs_page_gets_the_alert_banner(browser: httpx.Client) -> None:
    page = browser.get("/candidate/lab/lab")
    assert page.status_code == 200 and "JupyterLab" in page.text
    assert page.text.count(BANNER.decode()) == 1
    assert int(page.headers["content-length"]) == len(page.content)


# last: the run is submitted and graded here -----------------------------------------------------
@pytest.fixture(scope="module")
def assessor(
    app: tuple[str, Portal], lab_runner: Runner, running: Run, logged: str
) -> Iterator[httpx.Client]:
    """The run graded (after the tests of its live MLflow, and what they need ``logged``
    first) and a browser-like client of an assessor of its firm, signed in."""
    lab_runner.submit(running.id)
    assert lab_runner.grade(running.id).status is Status.graded
    base, portal = app
    portal.accounts.add_assessor("lead@acme.test", "Lead", "acme", "correct horse battery")
    client = httpx.Client(base_url=base, trust_env=False, timeout=120)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None, "the sign-in page has no CSRF field"
    form = {"email": "lead@acme.test", "password": "correct horse battery", "next": "/runs"}
    assert client.post("/login", data={**form, "csrf": token.group(1)}).status_code == 303
    yield client
    client.close()


def test_an_assessor_reads_the_graded_runs_mlflow_and_writes_nothing(
    assessor: httpx.Client, browser: httpx.Client, running: Run, logged: str
) -> None:
    view = f"/runs/{running.id}/tools/mlflow/"
    assert f'href="{view}"' in assessor.get(f"/runs/{running.id}").text
    page = assessor.get(view)
    assert page.status_code == 200 and "<title>MLflow</title>" in page.text
    found = assessor.get(f"{view}ajax-api/2.0/mlflow/registered-models/search")
    assert "proxied-model" in [m["name"] for m in found.json()["registered_models"]]
    origin = {"Origin": str(assessor.base_url).rstrip("/")}
    search = f"{view}ajax-api/2.0/mlflow/experiments/search"
    searched = assessor.post(search, json={"max_results": 10}, headers=origin)
    assert searched.status_code == 200, searched.text
    written = assessor.post(
        f"{view}ajax-api/2.0/mlflow/registered-models/create", json={"name": "x"}, headers=origin
    )
    assert written.status_code == 405 and "read-only" in written.text
    artifact = assessor.get(f"{view}get-artifact", params={"path": "page.html", "run_uuid": logged})
    assert SANDBOX in artifact.headers.get_list("content-security-policy")
    assert browser.get(view).status_code == 303  # a candidate's session: the sign-in page
