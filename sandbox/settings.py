"""What the sandbox reads of the runner's settings, as a protocol: the sandbox never imports
them (``runner/config.py`` holds them; docs/operations.md documents each)."""

from __future__ import annotations

from typing import Protocol


class BackendSettings(Protocol):
    """The settings a ``sandbox_backend`` hook receives."""

    @property
    def workspace_mb(self) -> int:
        """Size of each /workspace volume in MiB (0: no limit)."""
        ...

    @property
    def backend(self) -> str:
        """Where pods run: ``docker`` (this machine's engine) or ``swarm``."""
        ...

    @property
    def swarm_manager(self) -> str:
        """Engine API URL of a Swarm manager (``tcp://host:2376``); empty when not set."""
        ...

    @property
    def swarm_registry(self) -> str:
        """The cluster's registry as the runner's engine pushes to it (``host:port``)."""
        ...

    @property
    def swarm_registry_pull(self) -> str:
        """The same registry as the nodes pull from it; empty: ``swarm_registry``."""
        ...
