"""The one settings object, filled from the environment and overridden by the CLI (and, later,
the web app). Every setting is documented in docs/operations.md."""

from __future__ import annotations

import email.utils
import ipaddress
import os
import tempfile
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from prodproven.runner.errors import ConfigError
from prodproven.sandbox.images import ImageSettings, default_debian_mirror

ENV_PREFIX = "PRODPROVEN_"


def builtin_challenges() -> Path:
    """The folder of the built-in challenges (the package data of ``prodproven.challenges``)."""
    return Path(str(resources.files("prodproven.challenges")))


def usable_data_dir(path: Path, key: str) -> Path:
    """``path``, made when missing, once it is a folder prodproven can write in; else a
    ConfigError naming ``key`` (the option or variable it came from) and the path."""
    if path.exists() and not path.is_dir():
        raise ConfigError(key, str(path), "a folder, but it is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            key,
            str(path),
            "a folder prodproven can write in (its store, logs and runs live there), but "
            f"{exc.strerror or exc}: choose another or give this user write access",
        ) from None
    return path


def pool_sizes(text: str) -> dict[str, int]:
    """``ID=N,ID=N`` as a mapping; raises ValueError naming the entry that is not one."""
    sizes: dict[str, int] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = entry.partition("=")
        if not name.strip() or not count.strip().isdigit() or int(count) > 100:
            raise ValueError(f"{entry!r} is not CHALLENGE=N with N from 0 to 100")
        sizes[name.strip()] = int(count)
    return sizes


class Settings(BaseModel):
    """How this installation of prodproven runs."""

    model_config = ConfigDict(frozen=True)

    data_dir: Path
    """Runs, archives, artifacts and the SQLite store live here."""
    database_url: str | None = None
    """SQLAlchemy URL of the store; default: SQLite file ``<data_dir>/prodproven.db``."""
    store_busy_seconds: float = Field(default=30.0, ge=0.1, le=3600, allow_inf_nan=False)
    """How long a command waits for another process holding the SQLite store before it gives
    up with "the store is busy"."""
    base_image: str = "python:3.11-slim"
    """Image every container starts from; when it cannot be had, an offline Debian bootstrap."""
    debian_mirror: str = ""
    """Debian mirror for the offline bootstrap; default: the one apt is configured with."""
    challenges_path: tuple[Path, ...] = ()
    """Extra folders searched for challenges, after the built-in ones and before the installed
    ones; the CLI's ``--challenges-dir`` folders come first."""
    cpu_pinning: bool = True
    """On machines with 2+ cores, pin the service under load and the load generator apart."""
    max_archive_mb: int = 512
    """Largest workspace archive accepted at submit, in MiB."""
    workspace_mb: int = Field(default=4096, ge=0, le=2**20)
    """Size of each /workspace volume, in MiB (a loop-mounted ext4 image); 0: no limit."""
    recording_cap_mb: int = Field(default=20, ge=1, le=2**20)
    """Largest size of a run's terminal recordings and cell log together, in MiB; at it the
    recording of that run stops (the terminals keep working) with ``recording.capped``."""
    capacity_memory: str = ""
    """Memory all runs holding a pod may reserve together, a size like ``20g``; a start past it
    waits in ``queued``. Default: the engine's total memory minus 2 GiB for the runner and
    grading."""
    capacity_cpus: float = Field(default=0.0, ge=0, le=4096, allow_inf_nan=False)
    """CPUs all runs holding a pod may reserve together; 0: CPUs do not limit admission."""
    timed_gradings: int = Field(default=1, ge=1, le=64)
    """Gradings with a timed grader (one measuring latency, throughput or time) that may run at
    once per data directory; the others wait for a timing slot (``grading/slots.py``)."""
    warm_pool: str = ""
    """Warm pods kept ready per challenge, ``ID=N`` separated by commas (e.g.
    ``deploy-model=1,fix-drift=1``); a challenge not named keeps none (``lifecycle/pool.py``)."""
    backend: Literal["docker", "swarm"] = "docker"
    """Where pods run: ``docker`` (this machine's engine) or ``swarm`` (nodes of a Docker
    Swarm cluster, docs/scaling.md)."""
    swarm_manager: str = ""
    """Engine API URL of a Swarm manager (``tcp://host:2376``), for ``backend`` swarm."""
    swarm_registry: str = ""
    """The cluster's registry as the runner's engine pushes to it (``host:port``)."""
    swarm_registry_pull: str = ""
    """The same registry as the nodes pull from it (``host:port``); default: ``swarm_registry``."""
    web_host: str = "127.0.0.1"
    """Address ``prodproven serve`` listens on."""
    web_port: int = Field(default=8080, ge=1, le=65535)
    """Port ``prodproven serve`` listens on."""
    public_url: str = ""
    """Base URL people reach the web app at, for invitation links; default: from host and port.
    ``https://…`` makes every cookie ``Secure`` and every answer carry HSTS."""
    trusted_proxies: str = ""
    """Addresses of the reverse proxies in front of ``serve`` (comma-separated, ``*`` for any):
    their ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed; empty: nobody's are."""
    firm: str = "default"
    """The firm that owns runs started from the CLI and invitations made there."""
    session_hours: int = 12
    """How long an assessor stays signed in to the web app."""
    invitation_days: int = 7
    """Default lifetime of an invitation link."""
    token_days: int = Field(default=90, ge=1, le=3650)
    """Default lifetime of a new API token, in days."""
    validity_months: int = 12
    """How long a credential is valid after it is issued."""
    view_idle_s: float = Field(default=600.0, ge=1, le=86400, allow_inf_nan=False)
    """Seconds a view of a submitted run's restored services stays open unused before its pod
    is closed (``lifecycle/views.py``); the next request opens it again."""
    timeline_cap_mb: int = Field(default=50, ge=0, le=2**20)
    """Largest size of a run's workspace timeline, in MiB (``runs/timeline.py``); a snapshot
    that would pass it is not kept, and none is taken after it (``timeline.capped``)."""
    snapshot_every_s: float = Field(default=60.0, ge=1, le=3600, allow_inf_nan=False)
    """Seconds between snapshots of a running run's workspace into its timeline."""
    evidence_retention_days: int = Field(default=0, ge=0, le=36500)
    """Days a run's recordings and workspace timeline are kept after its work ended (its
    submit, else its end), then deleted by the due work (``runs/retention.py``); 0: as long as
    the run. The grade, result, archives and event log are kept."""
    smtp_host: str = ""
    """SMTP server every email goes through (``people/mail.py``); empty: emails wait in the
    outbox, unsent."""
    smtp_port: int = Field(default=0, ge=0, le=65535)
    """The SMTP server's port; 0: 25, 587 or 465 as ``smtp_tls`` is none, starttls or tls."""
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    """How the connection to the SMTP server is encrypted: not at all, STARTTLS after connecting,
    or TLS from the start; the server's certificate is verified against the system's CAs."""
    smtp_user: str = ""
    """User to sign in to the SMTP server as; empty: no sign-in."""
    smtp_password: SecretStr = SecretStr("")
    """Password of ``smtp_user``."""
    smtp_from: str = ""
    """The ``From`` of every email, an address or ``Name <address>``; default:
    ``prodproven@`` this machine's name."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """Lowest level written to ``<data_dir>/logs/prodproven.log`` (any case)."""

    @field_validator("warm_pool")
    @classmethod
    def _pool_sizes(cls, value: str) -> str:
        pool_sizes(value)
        return value

    def warm_pool_size(self, challenge_id: str) -> int:
        """How many warm pods ``warm_pool`` keeps for ``challenge_id``."""
        return pool_sizes(self.warm_pool).get(challenge_id, 0)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            if part != "*":
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError:
                    raise ValueError(
                        f"{part!r} is not an address, a network (10.0.0.0/8) or *"
                    ) from None
        return value

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str) -> str:
        if value and "@" not in email.utils.parseaddr(value)[1]:
            raise ValueError(f"{value!r} is not an address or Name <address>")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'prodproven.db'}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def installed_challenges(self) -> Path:
        """Where ``prodproven challenge install`` puts challenges."""
        return self.data_dir / "challenges"

    @property
    def challenge_dirs(self) -> tuple[Path, ...]:
        return (builtin_challenges(), *self.challenges_path, self.installed_challenges)

    def searching_first(self, folders: Iterable[Path]) -> Settings:
        """These settings with ``folders`` searched for challenges before ``challenges_path``."""
        return self.model_copy(update={"challenges_path": (*folders, *self.challenges_path)})

    def images(self) -> ImageSettings:
        return ImageSettings(
            base_image=self.base_image,
            debian_mirror=self.debian_mirror or default_debian_mirror(),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``PRODPROVEN_*`` variables, then explicit overrides (None is ignored).

        Raises ConfigError naming the variable and the bad value.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "data_dir": Path(
                env.get(f"{ENV_PREFIX}DATA_DIR", "")
                or Path.home() / ".local" / "share" / "prodproven"
            ),
        }
        for name in cls.model_fields:
            key = f"{ENV_PREFIX}{name.upper()}"
            if name != "data_dir" and key in env:
                raw = env[key]
                values[name] = (
                    tuple(Path(p) for p in raw.split(os.pathsep) if p)
                    if name == "challenges_path"
                    else raw
                )
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = str(err["loc"][0])
            raise ConfigError(
                f"{ENV_PREFIX}{name.upper()}", values.get(name), err["msg"].lower()
            ) from None
