"""Service kinds: trusted containers a challenge starts beside the candidate's workspace.

A challenge declares ``services: [{name: mlflow, kind: mlflow}]``; the runner starts one
container of the kind's image in the run's pod, makes ``name`` resolve to the pod's loopback,
hands the workspace the kind's client environment (``MLFLOW_TRACKING_URI``, ...) and archives
the kind's data directory with the run at submit. Kinds are registered through the
``register_services`` hook; the built-in MLflow tracking server below is registered the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prodproven.sandbox.environment import NOBODY_USER, Limits
from prodproven.sandbox.images import RECIPES


@dataclass(frozen=True)
class ServiceKind:
    """How to run one kind of service.

    ``command`` and ``client_env`` receive the service's name in the spec (its host name in
    the pod); ``env`` is the service's own environment. ``data_dir`` is a volume that survives
    restarts and is archived at submit.
    """

    kind: str
    description: str
    recipe: Path
    port: int
    command: Callable[[str], list[str]]
    env: Mapping[str, str] = field(default_factory=dict)
    health_path: str = "/health"
    data_dir: str | None = None
    user: str = NOBODY_USER
    limits: Limits = field(default_factory=lambda: Limits(2**30, 1.0, 256))
    startup_timeout_s: float = 90.0
    client_env: Callable[[str], Mapping[str, str]] = lambda _name: {}
    read_only_posts: tuple[str, ...] = ()
    """Regular expressions of the POST paths that only read (e.g. searches), each matching a
    whole path without its query: what a read-only view of the service restored from its
    archive lets through besides GET, HEAD and OPTIONS (``runner/lifecycle/views.py``)."""
    trusted_ui: tuple[str, ...] = ()
    """Shell-style patterns (``*`` crossing ``/``) of the paths of the kind's own web UI,
    served to browsers through the web app as they are; every other answer (an artifact a
    candidate logged, say) is sandboxed like candidate code (``runner/web/upstream.py``)."""

    def url(self, name: str) -> str:
        """The service's URL as containers of the run see it."""
        return f"http://{name}:{self.port}"


def _mlflow_command(name: str) -> list[str]:
    return [
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        "5000",
        "--backend-store-uri",
        "sqlite:////mlflow/mlflow.db",
        "--artifacts-destination",
        "/mlflow/artifacts",
        "--serve-artifacts",
        "--workers",
        "1",
        # MLflow 3 refuses unexpected Host headers: the workspace uses the service name, graders
        # and assessors come through a port forwarded to 127.0.0.1 on some host port.
        "--allowed-hosts",
        f"{name},{name}:*,localhost,localhost:*,127.0.0.1,127.0.0.1:*",
    ]


_MLFLOW_API = r"/(?:ajax-)?api/"
MLFLOW_READ_ONLY_POSTS = (
    # The UI's searches and the GraphQL endpoint (MLflow 3.17: its queries and its two
    # "mutations" are searches); every other POST of the REST API writes.
    _MLFLOW_API + r"2\.0/?mlflow/experiments/search(?:-datasets)?",
    _MLFLOW_API + r"2\.0/mlflow/runs/search",
    _MLFLOW_API + r"2\.0/mlflow/logged-models/search",
    _MLFLOW_API + r"2\.0/mlflow/registered-models/get-latest-versions",
    _MLFLOW_API + r"3\.0/mlflow/traces/(?:search|batchGetInfos|metrics)",
    _MLFLOW_API + r"3\.0/mlflow/(?:issues|datasets|prompt-optimization/jobs)/search",
    r"/graphql",
)

MLFLOW = ServiceKind(
    kind="mlflow",
    description="MLflow tracking server and model registry (sqlite store, served artifacts)",
    recipe=RECIPES / "mlflow",
    port=5000,
    command=_mlflow_command,
    # The GenAI job runner starts a dozen worker processes (over 1.5 GB); runs need none.
    env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    health_path="/health",
    data_dir="/mlflow",
    client_env=lambda name: {"MLFLOW_TRACKING_URI": f"http://{name}:5000"},
    read_only_posts=MLFLOW_READ_ONLY_POSTS,
    # Its page and the page's scripts and styles; the UI reads the ajax-api with fetch, where
    # the sandbox changes nothing, and an artifact opened by itself is the candidate's.
    trusted_ui=("/", "/static-files/*"),
)
