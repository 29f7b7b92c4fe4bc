"""Cheat probes: submissions that try the obvious tricks, run by ``challenge validate``.

A cheat is registered through the ``register_cheats`` hook, like a grader. For a given
challenge it writes a submission (or says why it does not apply) and names the spec's graders
it attacks. The gate passes when each attacked grader scores 0 or raises an integrity
finding, the run does not pass when the probe says so, and nothing reached the validator's
answer server.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.gate.oracle import OracleAddress
from prodproven.runner.spec.challenge import Challenge
from prodproven.runner.spec.parts import GraderSpec
from prodproven.runner.spec.prepare import Material


@dataclass(frozen=True)
class CheatContext:
    """What a cheat may use to build its submission: everything the validator knows."""

    challenge: Challenge
    material: Material
    oracle: OracleAddress
    dest: Path
    """An empty folder to write the submission into (overlaid on the starter workspace)."""

    def graders(self, *kinds: str) -> list[GraderSpec]:
        """The spec's graders of the given kinds, in spec order."""
        return [g for g in self.challenge.spec.graders if g.kind in kinds]

    def hidden_json(self, rel: str) -> Any:
        """A hidden JSON file's content. Raises ProdprovenError when it is missing."""
        path = self.material.hidden_file(rel)
        if path is None:
            raise ProdprovenError(f"{self.challenge.id}: the hidden file {rel} is missing")
        return json.loads(path.read_text())

    def starter_file(self, rel: str) -> Path | None:
        """The starter workspace's file ``rel`` (generated material included), or None."""
        for root in reversed(self.material.workspace):
            if (root / rel).is_file():
                return root / rel
        return None

    def write(self, rel: str, content: str | bytes, executable: bool = False) -> None:
        path = self.dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
        if executable:
            path.chmod(0o755)


@dataclass(frozen=True)
class Probe:
    """A built submission (in the context's ``dest``) and the graders it attacks, by name."""

    attacks: tuple[str, ...]
    how: str
    fails_run: bool = False
    """The run must also not pass (e.g. a deployment over the quota: nothing was started)."""


@dataclass(frozen=True)
class NotApplicable:
    reason: str


class Cheat(ABC):
    """One trick. Subclasses set ``name`` and ``trick`` (one line, shown in the verdict)."""

    name: ClassVar[str]
    trick: ClassVar[str]

    @abstractmethod
    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        """Write the cheating submission into ``ctx.dest``, or say why the trick does not
        apply to this challenge (it uses no grader the trick attacks)."""
