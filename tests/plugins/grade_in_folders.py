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
from pathlib import Path

from prodproven.graders.base import GraderError
from prodproven.runner import plugins


class FolderEnvironment:
    """The file-reading part of graders.base.EvaluationEnvironment, over local folders."""

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


def main(kind: str, params: str, workspace: str, hidden: str, artifacts: str) -> None:
    grader = plugins.graders()[kind]
    env = FolderEnvironment(Path(workspace), Path(hidden), Path(artifacts))
    result = grader().grade(env, grader.Params.model_validate(json.loads(params)))
    print(result.model_dump_json())


if __name__ == "__main__":
    main(*sys.argv[1:])
