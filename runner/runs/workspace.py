"""A run's files on the host (``<data>/runs/<id>/``) and the workspace container of a running
run: reaching it, overlaying a scripted submission onto it and running the submission's
scripts in it as the candidate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prodproven.runner.errors import ProdprovenError, RunStateError
from prodproven.runner.runs.store import Status, Store, utcnow
from prodproven.sandbox import tarball
from prodproven.sandbox.environment import Backend, ExecResult, Pod, Sandbox
from prodproven.sandbox.errors import ContainerError, ExecTimeout

AUTOPILOT = ".autopilot/run.sh"
RESPONDER = ".autopilot/respond.sh"


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def archive(self) -> Path:
        return self.root / "workspace.tar"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def services(self) -> Path:
        return self.root / "services"


def run_folder(data_dir: Path, run_id: str) -> Path:
    """The folder of run ``run_id``'s files in data directory ``data_dir``."""
    return data_dir / "runs" / run_id


class Workspaces:
    """The files and workspaces of runs. ``report`` receives one line per step."""

    def __init__(
        self, data_dir: Path, store: Store, backend: Backend, report: Callable[[str], None]
    ) -> None:
        self._data_dir = data_dir
        self._store = store
        self._backend = backend
        self._report = report

    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(run_folder(self._data_dir, run_id))

    def workspace(self, run_id: str) -> tuple[Pod, Sandbox]:
        """The pod and workspace container of a running run. Raises RunStateError when the
        run is not running, ContainerError when its workspace is gone."""
        run = self._store.get(run_id)
        if run.status != Status.running:
            raise RunStateError(f"run {run_id} is {run.status.value}; its workspace is gone")
        pod = self._backend.attach_pod(run_id, "workspace")
        workspace = pod.member("workspace") if pod else None
        if pod is None or workspace is None:
            raise ContainerError(f"the workspace of run {run_id} no longer exists")
        return pod, workspace

    def overlay(self, run_id: str, submission: Path) -> None:
        """Copy ``submission`` over /workspace as if the candidate had written it."""
        if not submission.is_dir():
            raise ProdprovenError(f"submission {submission} is not a folder")
        _, workspace = self.workspace(run_id)
        self._store.add_event(run_id, "submission.overlaid", {"source": str(submission)})
        workspace.put_archive("/workspace", tarball.directories(submission))

    def autopilot(self, run_id: str, script: str = AUTOPILOT) -> ExecResult | None:
        """Run the submission's ``script`` (relative to /workspace) as the candidate, with the
        run's services up; None when the submission has no such script."""
        _, workspace = self.workspace(run_id)
        check = workspace.exec(["test", "-f", f"/workspace/{script}"], timeout=10)
        if not check.ok:
            return None
        run = self._store.get(run_id)
        assert run.deadline is not None
        remaining = max(5.0, (run.deadline - utcnow()).total_seconds())
        self._report(f"running the submission's {script}")
        self._store.add_event(
            run_id, "autopilot.started", {"script": script, "timeout_s": remaining}
        )
        try:
            result = workspace.exec(["bash", script], timeout=remaining)
        except ExecTimeout as exc:
            self._store.add_event(run_id, "autopilot.timed_out", {"message": str(exc)})
            return None
        self._store.add_event(
            run_id,
            "autopilot.finished",
            {
                "exit_code": result.exit_code,
                "duration_s": round(result.duration_s, 2),
                "stdout": result.stdout[-4000:],
                "stderr": result.stderr[-4000:],
            },
        )
        return result
