"""Submitting a run, declared as a list of small steps run in order (like grading).

``submitted`` is committed first (:func:`commit_submitted`), before any step touches a
container. The steps then stop what could still change the workspace, archive the workspace,
its recordings (terminals and cell executions) and each service's data (fsync'd,
checksummed, written to a ``.partial`` name and renamed), record the archives together, and
only then remove the pod. A submit interrupted before that record finds the run
``submitted`` without an archive and can be run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prodproven.runner.errors import RunStateError
from prodproven.runner.lifecycle.snapshots import Snapshots
from prodproven.runner.runs import prober, recording, services
from prodproven.runner.runs.archives import left_out_message, write_archive
from prodproven.runner.runs.forwards import Forwards
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.store import Run, Status, Store, utcnow
from prodproven.runner.runs.workspace import RunPaths
from prodproven.runner.spec.challenge import Challenge
from prodproven.sandbox.environment import Backend, Pod, Sandbox
from prodproven.sandbox.errors import ContainerError

Reporter = Callable[[str], None]


@dataclass(frozen=True)
class Submission:
    """A run just committed as ``submitted``; ``late`` when that was past its deadline."""

    run: Run
    late: bool


def commit_submitted(store: Store, run_id: str) -> Submission:
    """Commit ``submitted`` for a running run, or take up a submit that was interrupted before
    its archives were recorded. Raises RunStateError for any other run (which stays as it
    is)."""
    run = store.get(run_id)
    resuming = run.status == Status.submitted and run.archive_path is None
    if run.status != Status.running and not resuming:
        raise RunStateError(f"run {run_id} is {run.status.value}; only running runs submit")
    late = run.deadline is not None and (run.submitted_at or utcnow()) > run.deadline
    if not resuming:
        run = store.transition(run_id, Status.submitted, submitted_at=utcnow())
    return Submission(run, late)


@dataclass
class SubmitJob:
    submission: Submission
    challenge: Challenge
    store: Store
    backend: Backend
    provisioner: Provisioner
    forwards: Forwards
    paths: RunPaths
    max_bytes: int
    """The limit of each archive."""
    report: Reporter
    timeline_cap_bytes: int = 50 * 2**20
    """The cap of the run's workspace timeline (``PRODPROVEN_TIMELINE_CAP_MB``)."""
    pod: Pod | None = None
    workspace: Sandbox | None = None
    archive_sha256: str = ""
    service_archives: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.submission.run.id

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.store.add_event(self.run_id, kind, data)

    def the_pod(self) -> Pod:
        assert self.pod is not None, "the pod is found by an earlier step"
        return self.pod


def find_workspace(job: SubmitJob) -> None:
    job.report("archiving the workspace")
    job.paths.root.mkdir(parents=True, exist_ok=True)
    job.pod = job.backend.attach_pod(job.run_id, "workspace")
    job.workspace = job.pod.member("workspace") if job.pod else None
    if job.workspace is None:
        raise ContainerError(f"the workspace of run {job.run_id} is gone; nothing to archive")


def close_forwards(job: SubmitJob) -> None:
    """Close this process's forwards into the run."""
    job.forwards.close(job.run_id)


def stop_live_parts(job: SubmitJob) -> None:
    """Read the prober's last samples, then stop it and the live service, so nothing changes
    /workspace while it is archived."""
    pod = job.the_pod()
    probe_box = pod.member(prober.ROLE)
    if probe_box is not None:
        canaries = job.provisioner.canaries(job.challenge, job.submission.run.variant)
        prober.ProbeFeed(job.store, job.run_id, canaries).poll(probe_box, everything=True)
        probe_box.stop(timeout=5)
    live = pod.member(services.LIVE_SERVICE_ROLE)
    if live is not None:
        live.stop(timeout=5)


def snapshot_workspace(job: SubmitJob) -> None:
    """The workspace's last snapshot into its timeline, which is then sealed (a failure is
    logged and recorded, never raised: lifecycle/snapshots.py)."""
    assert job.workspace is not None
    Snapshots(job.store, job.run_id, job.paths, cap_bytes=job.timeline_cap_bytes).final(
        job.workspace
    )


def archive_workspace(job: SubmitJob) -> None:
    assert job.workspace is not None
    job.workspace.stop(timeout=2)
    written = write_archive(
        job.workspace, "/workspace", job.paths.archive, max_bytes=job.max_bytes, leave_out=True
    )
    job.archive_sha256 = written.sha256
    if written.left_out:
        message = left_out_message(written.left_out, job.max_bytes)
        job.report(message)
        files = [{"path": e.path, "bytes": e.size} for e in written.left_out[:100]]
        job.event(
            "archive.left_out",
            {"message": message, "cap_bytes": job.max_bytes, "files": files},
        )
    job.event(
        "archive.written",
        {"bytes": written.size, "sha256": written.sha256, "late": job.submission.late},
    )


def archive_recordings(job: SubmitJob) -> None:
    """Archive the run's terminal recordings and cell log (the lab, stopped with the
    workspace, records no more)."""
    archived = recording.archive(job.paths.root)
    if archived is not None:
        job.event("recordings.archived", vars(archived))


def archive_services(job: SubmitJob) -> None:
    """Stop each service with a data directory and archive that directory."""
    declared = job.challenge.services(job.provisioner.catalog)
    running = services.find_running(job.the_pod(), declared)
    if running:
        job.report("archiving the services' data")
    job.service_archives = services.archive_services(
        running, job.paths.services, max_bytes=job.max_bytes
    )
    for name, info in job.service_archives.items():
        job.event("service.archived", {"name": name, **info})


def record_archives(job: SubmitJob) -> None:
    """Record every archive in one commit: from now on the run is submitted for good."""
    job.store.update(
        job.run_id,
        archive_path=str(job.paths.archive),
        archive_sha256=job.archive_sha256,
        service_archives=job.service_archives,
    )


def remove_pod(job: SubmitJob) -> None:
    job.the_pod().remove()


SUBMIT_STEPS: list[Callable[[SubmitJob], None]] = [
    find_workspace,
    close_forwards,
    stop_live_parts,
    snapshot_workspace,
    archive_workspace,
    archive_recordings,
    archive_services,
    record_archives,
    remove_pod,
]


def submit_run(job: SubmitJob) -> Run:
    """Run every step; returns the submitted run with its archives."""
    for step in SUBMIT_STEPS:
        step(job)
    return job.store.get(job.run_id)
