"""Every error prodproven raises on purpose, in one tree.

::

    ProdprovenError                  root; the CLI prints its message, never a traceback
    ├── ConfigError                  a setting has a bad value (names the key and the value)
    ├── SpecError                    a challenge.yaml is malformed (names file, field, expectation)
    ├── ChallengeNotFound            no challenge with that id or path
    ├── ChallengeClash               two challenge folders on the search path share an id
    ├── PackError                    a challenge pack cannot be written, read or installed
    ├── CandidateNotFound            no candidate profile or run has that name
    ├── RunNotFound                  no run with that id
    ├── RunStateError                the run's status does not allow the operation
    │   ├── RunBusy                  another process is starting, submitting or grading the run
    │   ├── RunChanged               another process changed the run first (claimed its grading)
    │   └── AlertError               an alert that cannot be acknowledged: unknown or resolved
    ├── OverCapacity                 a run needs more than the machine's whole capacity
    ├── ResultUnreadable             a run's stored result is not a result document
    ├── SetupFailed                  the challenge's setup script failed
    ├── ProbeSetupError              the challenge's canary file cannot be used
    ├── AlreadySupervised            another process already supervises the run
    ├── ArchiveMismatch              the archive on disk is not the one recorded at submit
    ├── EvaluationLost               the evaluation pod's machine went down mid-grading
    ├── StoreError                   the store cannot be used: busy, damaged, not a store
    ├── DataDirFull                  the data directory's disk filled up (the run keeps its status)
    ├── AccountError                 an assessor or token cannot be created or changed as asked
    ├── UntrustedInput               outside input refused (too large or deep, path out of folder)
    ├── AccessDenied                 missing, wrong, expired or used credentials (web: 401/403)
    │   ├── ScopeDenied              valid credentials without the scope the operation needs
    │   ├── SignInRequired           an assessor page without a live session (web: to sign-in)
    │   ├── SignInThrottled          too many failed sign-ins: wait, or locked until unlocked
    │   └── CsrfFailed               a form came back without its session's CSRF secret
    ├── ReviewError                  a review is incomplete (an override without its reason)
    ├── InvitationError              an invitation cannot be created or used as asked
    ├── CredentialError              a credential cannot be issued, read or revoked as asked
    │   ├── CredentialNotFound       no credential with that id was issued here
    │   └── StatusListUnreachable    a credential's status list could not be fetched
    ├── FrameworkError               a framework or role profile is invalid or cannot be changed
    │   ├── FrameworkNotFound        the firm has no framework with that id
    │   └── RoleProfileNotFound      the firm has no role profile with that name
    ├── TeamError                    a team cannot be saved or changed as asked
    │   └── TeamNotFound             the firm has no team of that name
    ├── CampaignError                a campaign cannot be created or changed as asked
    │   └── CampaignNotFound         the firm has no campaign of that name
    ├── ShareError                   a person's record cannot be shared or unshared as asked
    │   └── ShareNotFound            the person has no live record link
    ├── MessageNotFound              the outbox has no message of that id the actor may see
    ├── GraderError                  a grader could not do its job (becomes a failed result)
    │   ├── _Unusable                a candidate's model cannot be scored (a zero, reported)
    │   └── DeploymentInvalid        a declared deployment (deploy.yaml) is invalid or over quota
    └── SandboxError                 containers, images, engine
        ├── DockerUnavailable        the engine does not answer
        ├── ImageError               an image is missing or failed to build
        ├── ContainerError           a container could not be created, started or copied
        ├── ExecTimeout              a command in a container ran past its timeout
        ├── CommandTimeout           a host command (build step, docker CLI) ran past its timeout
        ├── ServiceNotReady          a service did not pass its health check in time
        └── FaultError               a fault could not be injected

Most are defined here. These live beside the code that raises them (modules under
``prodproven``; ``sandbox`` and ``graders`` never import ``runner``, so theirs stay in their
layer and this module re-exports the ones the runner catches)::

    ProdprovenError                  sandbox.errors
    SandboxError                     sandbox.errors
    DockerUnavailable                sandbox.errors
    ImageError                       sandbox.errors
    ContainerError                   sandbox.errors
    ExecTimeout                      sandbox.errors
    CommandTimeout                   sandbox.errors
    ServiceNotReady                  sandbox.errors
    UntrustedInput                   sandbox.untrusted
    FaultError                       sandbox.faults
    GraderError                      graders.base
    _Unusable                        graders.mlflow_model
    DeploymentInvalid                graders.deployment
    PackError                        runner.spec.packs
    SetupFailed                      runner.runs.services
    ProbeSetupError                  runner.runs.prober
    AlreadySupervised                runner.lifecycle.supervisor
    RunBusy                          runner.lifecycle.ownership
    RunChanged                       runner.runs.store
    AlertError                       runner.runs.alerts
    FrameworkError                   runner.spec.framework
    FrameworkNotFound                runner.spec.framework
    RoleProfileNotFound              runner.spec.framework
    TeamError                        runner.people.teams
    TeamNotFound                     runner.people.teams
    CampaignError                    runner.people.campaigns
    CampaignNotFound                 runner.people.campaigns
    ShareError                       runner.people.shares
    ShareNotFound                    runner.people.shares
    OverCapacity                     runner.lifecycle.admission
    ArchiveMismatch                  runner.grading.pipeline
    EvaluationLost                   runner.grading.evaluation
    DataDirFull                      runner.runs.archives

Outside the tree, an exception that never leaves the module raising it::

    DocumentInvalid                  graders.frontmatter (a ValueError: a candidate's
                                     document that cannot be read is scored, not an error)
    PostmortemInvalid                graders.postmortem (a DocumentInvalid: a malformed
                                     postmortem is a finding about the candidate's work)
    _ClaimLost                       runner.people.campaigns (a campaign step's claim ran
                                     out: its transaction is rolled back, nothing is raised)

Errors are raised where the problem is found and caught once, at the edge: the CLI
(``runner/cli/main.py``) and the web app (``runner/web/app.py``). ``tests/unit/test_errors.py``
checks that this tree and the code agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prodproven.graders.base import GraderError
from prodproven.sandbox.errors import (
    CommandTimeout,
    ContainerError,
    DockerUnavailable,
    ExecTimeout,
    ImageError,
    ProdprovenError,
    SandboxError,
    ServiceNotReady,
)
from prodproven.sandbox.untrusted import UntrustedInput

__all__ = [
    "AccessDenied",
    "AccountError",
    "CandidateNotFound",
    "ChallengeClash",
    "ChallengeNotFound",
    "CommandTimeout",
    "ConfigError",
    "CsrfFailed",
    "CredentialError",
    "CredentialNotFound",
    "ContainerError",
    "DockerUnavailable",
    "ExecTimeout",
    "GraderError",
    "InvitationError",
    "ImageError",
    "ProdprovenError",
    "RunNotFound",
    "ReviewError",
    "RunStateError",
    "SandboxError",
    "ScopeDenied",
    "ServiceNotReady",
    "SignInRequired",
    "SignInThrottled",
    "SpecError",
    "StoreError",
    "StatusListUnreachable",
    "UntrustedInput",
]


class ConfigError(ProdprovenError):
    """A setting has a value prodproven cannot use."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key, self.value, self.expected = key, value, expected
        super().__init__(f"setting {key}={value!r} is invalid: expected {expected}")


class SpecError(ProdprovenError):
    """A challenge spec is malformed; the message lists every problem found."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid challenge spec {path}:\n{lines}")


class ChallengeNotFound(ProdprovenError):
    """No challenge has the requested id, and it is not a folder with a challenge.yaml."""


class ChallengeClash(ProdprovenError):
    """Two folders of the challenge search path hold challenges with the same id."""

    def __init__(self, challenge_id: str, folders: Sequence[Path]) -> None:
        self.challenge_id, self.folders = challenge_id, tuple(folders)
        where = " and ".join(str(folder) for folder in folders)
        super().__init__(
            f"challenge id {challenge_id!r} is used by {len(folders)} folders: {where}; ids "
            "must be unique across the challenge folders, so rename or remove all but one"
        )


class CandidateNotFound(ProdprovenError):
    """No candidate profile or run has that name."""


class RunNotFound(ProdprovenError):
    """No run has the requested id."""


class RunStateError(ProdprovenError):
    """The operation is not allowed in the run's current status."""


class ResultUnreadable(ProdprovenError):
    """A run's stored result document does not have the shape of the result document."""


class AccessDenied(ProdprovenError):
    """The credentials are missing, wrong, expired or already used."""


class ScopeDenied(AccessDenied):
    """The credentials are valid but lack the scope the operation needs."""


class ReviewError(ProdprovenError):
    """A review cannot be recorded as given (e.g. an override without a reason)."""


class InvitationError(ProdprovenError):
    """An invitation cannot be created or used as asked."""


class CredentialError(ProdprovenError):
    """A credential cannot be issued, read or revoked as asked (a verification that fails is a
    verdict, not this error)."""


class CredentialNotFound(CredentialError):
    """No credential with that id was issued by this installation."""


class StatusListUnreachable(CredentialError):
    """A credential's status list could not be fetched, so its revocation was not checked."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"revocation not checked: {url} unreachable ({reason})")


class MessageNotFound(ProdprovenError):
    """The outbox has no message of that id the actor may see (another firm's is the same as
    none)."""


class StoreError(ProdprovenError):
    """The store cannot be opened or used: another process holds it past the busy timeout,
    its file is damaged, empty or not a prodproven store, its URL's driver is not installed,
    or its database server cannot be reached. The message says what to do."""


class SignInRequired(AccessDenied):
    """An assessor page was asked for without a live assessor session."""


class SignInThrottled(AccessDenied):
    """Too many failed sign-ins for an account or from an address: try again after
    ``retry_after`` seconds, or (``retry_after`` None) the account is locked until an operator
    unlocks it."""

    def __init__(self, message: str, retry_after: int | None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class CsrfFailed(AccessDenied):
    """A form came back without its session's CSRF secret."""

    def __init__(self) -> None:
        super().__init__("the form expired or did not come from this site; reload and try again")


class AccountError(ProdprovenError):
    """An assessor account or API token cannot be created or changed as asked."""
