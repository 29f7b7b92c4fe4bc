"""Reaching into a running run from the host: its services and declared ports, and the
JupyterLab in its workspace, each published on the host's 127.0.0.1 once per process (and
closed when the run is submitted here, or the process ends)."""

from __future__ import annotations

import threading
from pathlib import Path

from prodproven.runner.errors import ProdprovenError, RunStateError
from prodproven.runner.runs.lab import (
    LAB_BASE_URL,
    LAB_PORT,
    LabLink,
    ensure_lab,
    lab_token,
    lab_url,
)
from prodproven.runner.runs.provisioning import Provisioner
from prodproven.runner.runs.store import Status, Store
from prodproven.runner.runs.workspace import Workspaces
from prodproven.sandbox.environment import Pod, PublishedPort


class Forwards:
    """This process's forwards into running runs."""

    def __init__(
        self, data_dir: Path, store: Store, provisioner: Provisioner, workspaces: Workspaces
    ) -> None:
        self._data_dir = data_dir
        self._store = store
        self._provisioner = provisioner
        self._workspaces = workspaces
        self._published: dict[tuple[str, int], tuple[Pod, PublishedPort]] = {}
        self._lock = threading.Lock()

    def forward(self, run_id: str, name: str) -> PublishedPort:
        """Publish a service (by name) or a declared port (by name) of a running run on the
        host's 127.0.0.1."""
        run = self._store.get(run_id)
        challenge = self._provisioner.challenge_of(run)
        catalog = self._provisioner.catalog
        ports = {ref_name: kind.port for ref_name, kind in challenge.services(catalog)}
        ports.update({p.name: p.port for p in challenge.spec.ports})
        if name not in ports:
            raise ProdprovenError(
                f"run {run_id} has no service or port named {name!r} (known: {sorted(ports)})"
            )
        pod, _ = self._workspaces.workspace(run_id)
        published = self._publish(run_id, pod, ports[name])
        self._store.add_event(run_id, "port.forwarded", {"name": name, "url": published.url})
        return published

    def lab(self, run_id: str) -> LabLink:
        """JupyterLab in a running run's workspace, published on the host's 127.0.0.1: it is
        started when it does not run (e.g. after a restart or a crash), and published once
        per process like ``forward``. A workspace container that stopped (the candidate
        ended its main process) is started again first, its files kept (event
        ``workspace.restarted``). The event ``lab.opened`` never holds the token.
        Raises RunStateError when the run is not running, ServiceNotReady when the lab does
        not come up."""
        run = self._store.get(run_id)
        if run.status != Status.running:
            self.close(run_id)
            raise RunStateError(f"run {run_id} is {run.status.value}; its JupyterLab is gone")
        pod, workspace = self._workspaces.workspace(run_id)
        state = workspace.state()
        if state in ("exited", "created"):  # the candidate ended its main process (kill -9 -1)
            code = workspace.exit_code()
            workspace.start()
            self._store.add_event(run_id, "workspace.restarted", {"was": state, "exit_code": code})
        token = lab_token(self._data_dir, run_id)
        status = ensure_lab(workspace, token, run_id=run_id)
        published = self._publish(run_id, pod, LAB_PORT)
        self._store.add_event(
            run_id,
            "lab.opened",
            {
                "url": f"{published.url}{LAB_BASE_URL}lab",
                "port": published.host_port,
                "started": status.started,
            },
        )
        return LabLink(url=lab_url(published.url, token), port=published.host_port, token=token)

    def close(self, run_id: str) -> None:
        """Close this process's forwards into the run."""
        with self._lock:
            keys = [key for key in self._published if key[0] == run_id]
            dropped = [self._published.pop(key) for key in keys]
        for pod, published in dropped:
            pod.unpublish(published)

    def _publish(self, run_id: str, pod: Pod, port: int) -> PublishedPort:
        key = (run_id, port)
        with self._lock:
            cached = self._published.get(key)
        if cached is None:
            published = pod.publish(port)
            with self._lock:
                cached = self._published.setdefault(key, (pod, published))
            if cached[1] != published:  # another thread published first: use its forward
                pod.unpublish(published)
        return cached[1]
