"""Worker jobs of the web app: one per key at a time, a failure kept for the page, and each
job's start, end and failure in the log file with its run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodproven.runner import logs
from prodproven.runner.config import Settings
from prodproven.runner.errors import ContainerError, RunStateError
from prodproven.runner.runs.store import Run, Status, Store
from prodproven.runner.web.jobs import Jobs


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    logger = logging.getLogger(logs.ROOT_LOGGER)
    handlers, level = list(logger.handlers), logger.level
    yield logs.configure(Settings.from_env({}, data_dir=tmp_path))
    for handler in logger.handlers:
        if handler not in handlers:
            handler.close()
    logger.handlers, logger.level = handlers, level


@pytest.fixture
def jobs() -> Iterator[Jobs]:
    made = Jobs()
    yield made
    made.shutdown()


def a_run(tmp_path: Path) -> Run:
    store = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    return store.create_run(
        challenge_id="deploy-model",
        challenge_version="1.0.0",
        challenge_path="/challenges/deploy-model",
        candidate="Ada",
        mode="interactive",
    )


def test_a_job_logs_its_start_and_its_end_with_the_run(
    tmp_path: Path, log_file: Path, jobs: Jobs
) -> None:
    run = a_run(tmp_path)
    assert jobs.submit("start", "inv-1", lambda: run)
    jobs.wait("inv-1", timeout=10)
    lines = log_file.read_text().splitlines()
    assert lines[0].endswith("prodproven.runner.web.jobs: start job for inv-1 started")
    assert lines[1].endswith(f"start job for inv-1 done: run {run.id} is {Status.created.value}")
    assert jobs.failure("inv-1") is None


def test_a_failed_job_logs_its_run_and_traceback_and_keeps_the_message(
    log_file: Path, jobs: Jobs
) -> None:
    def fail() -> Run:
        raise RunStateError("your run is graded; its tools are closed")

    jobs.submit("grade", "inv-2", fail, run_id="r-42")
    jobs.wait("inv-2", timeout=10)
    text = log_file.read_text()
    assert "INFO" in text and "grade job for inv-2 started on run r-42" in text
    assert "ERROR" in text and "grade job for inv-2 failed on run r-42" in text
    assert "Traceback" in text and "RunStateError: your run is graded" in text
    assert jobs.failure("inv-2") == "your run is graded; its tools are closed"


def test_an_unexpected_failure_shows_only_a_reference_found_in_the_log(
    log_file: Path, jobs: Jobs
) -> None:
    def crash() -> Run:
        raise KeyError("internal detail")

    jobs.submit("grade", "inv-3", crash)
    jobs.wait("inv-3", timeout=10)
    shown = jobs.failure("inv-3")
    assert shown is not None and "internal detail" not in shown and "KeyError" not in shown
    reference = shown.rsplit("reference ", 1)[1].rstrip(")")
    assert f"(reference {reference})" in log_file.read_text()


def test_a_failed_start_shows_a_reference_not_the_engines_error(jobs: Jobs) -> None:
    def start() -> Run:
        raise ContainerError("docker: Error response from daemon: OCI runtime create failed")

    jobs.submit("start", "inv-4", start)
    jobs.wait("inv-4", timeout=10)
    shown = jobs.failure("inv-4")
    assert shown is not None and "reference" in shown
    assert "daemon" not in shown and "OCI" not in shown
