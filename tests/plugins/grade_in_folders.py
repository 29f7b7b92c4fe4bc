"""Grade with an installed grader kind outside any run: the workspace and the hidden material
are plain folders, and nothing runs in a container.

    python grade_in_folders.py KIND PARAMS_JSON WORKSPACE HIDDEN ARTIFACTS

prints the GradeResult as JSON. The example plugin's install test runs it in a fresh
interpreter, so the grader is found the way a real run finds it: by kind, from the entry point.
Only graders that read files can be graded this way.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from prodproven.graders.base import GraderError, GradeResult, ProbeOutput, ServedTester
from prodproven.graders.deployment import DeployFile, ReplicaUsage
from prodproven.graders.slo import IncidentRecord
from prodproven.runner import plugins


def _needs_a_run(what: str) -> GraderError:
    return GraderError(f"{what} needs a run's evaluation pod: grading in folders only reads files")


class FolderEnvironment:
    """graders.base.EvaluationEnvironment over local folders: files are read from them, and
    what needs a run's evaluation pod (services, probes, testers, incidents) is a GraderError."""

    def __init__(self, workspace: Path, hidden: Path, artifacts: Path) -> None:
        self._workspace = workspace
        self._hidden = hidden
        self._artifacts = artifacts

    def workspace_file(self, rel: str, *, max_bytes: int = 64 * 2**20) -> bytes | None:
        path = self._workspace / rel
        if not path.is_file():
            return None
        if path.stat().st_size > max_bytes:
            raise GraderError(f"{rel} in the workspace is larger than {max_bytes} bytes")
        return path.read_bytes()

    def hidden_file(self, rel: str) -> Path:
        path = self._hidden / rel
        if not path.exists():
            raise GraderError(f"hidden material {rel!r} is missing from {self._hidden}")
        return path

    def save_artifact(self, name: str, data: bytes) -> str:
        path = self._artifacts / name
        path.write_bytes(data)
        return str(path)

    def log(self, message: str) -> None:
        print(message, file=sys.stderr)

    @property
    def service_port(self) -> int:
        raise _needs_a_run("the candidate's service")

    def service_url(self, name: str) -> str:
        raise _needs_a_run(f"service {name!r}")

    def incident(self) -> IncidentRecord:
        raise _needs_a_run("the incident record")

    def ensure_service(self) -> float:
        raise _needs_a_run("the candidate's service")

    def deployment(self) -> DeployFile:
        raise _needs_a_run("the candidate's deployment")

    def service_usage(self) -> list[ReplicaUsage]:
        raise _needs_a_run("the service's usage")

    def earlier_result(self, grader: str) -> GradeResult:
        raise GraderError(f"grading in folders runs one grader: none before it ({grader!r})")

    def run_probe(
        self, files: Mapping[str, bytes], cmd: Sequence[str], *, timeout: float, load: bool = False
    ) -> ProbeOutput:
        raise _needs_a_run("a probe")

    def run_tester(
        self, files: Mapping[str, bytes], cmd: Sequence[str], *, timeout: float
    ) -> ProbeOutput:
        raise _needs_a_run("a tester")

    def serve_tester(
        self,
        files: Mapping[str, bytes],
        cmd: Sequence[str],
        *,
        ports: Sequence[int],
        ready_timeout: float = 60.0,
    ) -> AbstractContextManager[ServedTester]:
        raise _needs_a_run("a tester")


def main(kind: str, params: str, workspace: str, hidden: str, artifacts: str) -> None:
    grader = plugins.graders()[kind]
    env = FolderEnvironment(Path(workspace), Path(hidden), Path(artifacts))
    result = grader().grade(env, grader.Params.model_validate(json.loads(params)))
    print(result.model_dump_json())


if __name__ == "__main__":
    main(*sys.argv[1:])
