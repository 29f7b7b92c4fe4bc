"""Several processes on one store (SQLite file, real PostgreSQL server): opening a new store at
once, submitting one run at once, claiming and grading it at once, overriding its score at
once. Every state change is a guarded update: one submit wins, one grader wins each grading
attempt, and no review is built on a stale read; two `prodproven serve` on one PostgreSQL
database take overrides of one run at once. No Docker, nothing timed: the parallel phase of
infra/dev.sh test."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from prodproven.runner.errors import RunStateError
from prodproven.runner.lifecycle.submit import commit_submitted
from prodproven.runner.people.accounts import Accounts
from prodproven.runner.people.audit import Audit
from prodproven.runner.people.reviews import Reviews
from prodproven.runner.runs import schema
from prodproven.runner.runs.store import Run, RunChanged, Status, Store
from tests.conftest import free_port

if TYPE_CHECKING:
    from tests import postgres

PROCESSES = 4
START_DELAY_S = 4.0
"""How long after the test hands out work every process starts at once: longer than a process
takes to import prodproven on a busy machine."""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty store's URL (no tables yet)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server: postgres.Server = request.getfixturevalue("postgres_server")
    with server.database(migrated=False) as found:
        yield found


def at_once(work: Callable[..., Any], *args: Any) -> list[Any]:
    """``work(at, *args)`` in PROCESSES new processes, all starting their work at ``at``; what
    each returned."""
    at = time.time() + START_DELAY_S
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        return pool.starmap(work, [(at, *args)] * PROCESSES)


def wait_until(at: float) -> None:
    time.sleep(max(0.0, at - time.time()))


def new_run(store: Store, until: Status) -> Run:
    run = store.create_run(
        challenge_id="c", challenge_version="1", challenge_path="/c", candidate="ada", mode="m"
    )
    path = [Status.provisioning, Status.running, Status.submitted, Status.grading, Status.graded]
    for status in path[: path.index(until) + 1]:
        fields: dict[str, Any] = (
            {"archive_path": "/a.tar", "score": 50.0} if status is Status.graded else {}
        )
        run = store.transition(run.id, status, **fields)
    return run


OPEN_AT = """
import sys, time
from prodproven.runner.runs.store import Store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
Store(sys.argv[1])
"""
"""A process that opens the store at argv[1] at the time argv[2] (a bare interpreter: a pool
worker would have the store's modules imported already)."""


def test_processes_opening_a_new_store_at_once_all_succeed(url: str) -> None:
    at = str(time.time() + START_DELAY_S)
    started = [
        subprocess.Popen([sys.executable, "-c", OPEN_AT, url, at], stderr=subprocess.PIPE)
        for _ in range(PROCESSES)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in started]
    assert [p.returncode for p in started] == [0] * PROCESSES, errors
    with Store(url).engine.connect() as connection:
        assert schema.revision(connection) == schema.head()


def submit(at: float, url: str, run_id: str) -> str:
    store = Store(url)
    wait_until(at)
    try:
        commit_submitted(store, run_id)
    except RunStateError:
        return "refused"
    return "submitted"


def test_concurrent_submits_commit_submitted_once(url: str) -> None:
    run = new_run(Store(url), Status.running)
    outcomes = at_once(submit, url, run.id)
    # the others were refused, or took the run for an interrupted submit to finish (which
    # only the run's owner does: lifecycle/ownership.py)
    assert set(outcomes) <= {"refused", "submitted"}
    kinds = Counter(e.kind for e in Store(url).events(run.id))
    assert kinds["status.submitted"] == 1


ROUNDS = 15


def grade(at: float, url: str, run_id: str) -> list[tuple[str, int]]:
    """Claim the run and record a result (its score: the attempt) ROUNDS times, as
    ``Runner._grade`` does; each outcome with its attempt."""
    store = Store(url)
    wait_until(at)
    outcomes = []
    for _ in range(ROUNDS):
        try:
            attempt = store.claim_grading(run_id).grading_attempts
        except RunChanged:
            outcomes.append(("lost", 0))
            continue
        try:
            store.transition(run_id, Status.graded, attempt=attempt, score=float(attempt))
        except RunChanged:
            outcomes.append(("superseded", attempt))  # claimed again before it finished
        else:
            outcomes.append(("graded", attempt))
    return outcomes


def test_one_grader_wins_each_attempt_and_only_the_newest_claim_records_its_result(
    url: str,
) -> None:
    store = Store(url)
    run = new_run(store, Status.graded)
    outcomes = [o for found in at_once(grade, url, run.id) for o in found]
    claimed = sorted(attempt for outcome, attempt in outcomes if outcome != "lost")
    final = store.get(run.id)
    assert claimed == list(range(1, final.grading_attempts + 1))  # one winner per attempt
    events = store.events(run.id)
    claims = sum(e.kind == "status.grading" for e in events) - 1  # new_run's first grading
    assert claims == final.grading_attempts
    graded = sorted(attempt for outcome, attempt in outcomes if outcome == "graded")
    recorded = [int(e.data["score"]) for e in events if e.kind == "status.graded"][1:]
    assert sorted(recorded) == graded
    if final.status is Status.graded:
        assert final.score == float(final.grading_attempts)


OVERRIDES = 10


def override(at: float, url: str, run_id: str) -> int:
    store = Store(url)
    reviews = Reviews(store, Audit(store))
    wait_until(at)
    for n in range(OVERRIDES):
        reviews.override(run_id, "assessor@example.com", float(n), "the graders missed it")
    return OVERRIDES


def test_concurrent_overrides_each_see_the_one_before(url: str) -> None:
    store = Store(url)
    run = new_run(store, Status.graded)
    assert sum(at_once(override, url, run.id)) == PROCESSES * OVERRIDES
    reviews = Reviews(store, Audit(store)).for_run(run.id)
    assert len(reviews) == PROCESSES * OVERRIDES
    previous = [r.previous_score for r in reviews]
    assert previous == [50.0] + [r.score for r in reviews[:-1]]  # no update lost


SERVE_TIMEOUT_S = 90
REQUESTS = 24


def test_two_servers_on_one_postgresql_take_concurrent_overrides_of_one_run(
    postgres_server: postgres.Server, tmp_path: Path
) -> None:
    with postgres_server.database() as url:
        store = Store(url)
        run = new_run(store, Status.graded)
        Accounts(store).add_assessor("ann@example.com", "Ann", "default", "a long passphrase 1")
        _, token = Accounts(store).create_token("ann@example.com", "load", ("read", "review"))
        env = {**os.environ, "PRODPROVEN_DATABASE_URL": url, "PRODPROVEN_DATA_DIR": str(tmp_path)}
        ports = [free_port(), free_port()]
        servers = [
            subprocess.Popen(
                [sys.executable, "-m", "prodproven.runner.cli", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(tmp_path / f"serve-{port}.log").open("w"),
            )
            for port in ports
        ]
        try:
            for port in ports:
                wait_for_api(port, token)
            with ThreadPoolExecutor(8) as pool:
                statuses = list(
                    pool.map(
                        lambda n: post_override(ports[n % 2], token, run.id, float(n)),
                        range(REQUESTS),
                    )
                )
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
        assert statuses == [201] * REQUESTS
        reviews = Reviews(store, Audit(store)).for_run(run.id)
        assert [r.previous_score for r in reviews] == [50.0] + [r.score for r in reviews[:-1]]
        assert sorted(r.score or 0.0 for r in reviews) == [float(n) for n in range(REQUESTS)]
        store.engine.dispose()


def api(port: int, token: str, path: str, body: dict[str, Any] | None = None) -> int:
    """The HTTP status of a call to the web app's API on ``port``."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def wait_for_api(port: int, token: str) -> None:
    deadline = time.monotonic() + SERVE_TIMEOUT_S
    while True:
        try:
            if api(port, token, "/me") == 200:
                return
        except OSError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"prodproven serve on {port} did not answer"
        time.sleep(0.5)


def post_override(port: int, token: str, run_id: str, score: float) -> int:
    body = {"score": score, "reason": "the graders missed it"}
    return api(port, token, f"/runs/{run_id}/overrides", body)
