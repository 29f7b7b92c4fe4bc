"""Challenge packages: the typed ``challenge.yaml`` model, loading with clear errors, discovery.

A challenge is a folder::

    challenge.yaml   the spec (this module's ChallengeSpec)
    brief.md         what the candidate reads
    workspace/       starter files, copied to /workspace
    hidden/          grader-only material, copied into evaluation containers at grading time
    solution/        the reference solution, overlaid on the workspace like a submission
    image/           the image recipe (Dockerfile, requirements.txt)
    prepare/         optional: a script that generates data and models inside the image
    setup/           optional: a script that seeds the run's services before the clock starts
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
)

from prodproven.runner.errors import ChallengeClash, ChallengeNotFound, ProdprovenError, SpecError
from prodproven.runner.spec.incidents import FaultSpec, ProbeSpec, ScheduledEvent, check_incidents
from prodproven.runner.spec.model import (
    CHALLENGE_ID,
    VERSION,
    capped,
    check_kind,
    describe,
    is_challenge_id,
    shown,
    twice,
)
from prodproven.runner.spec.model import Strict as _Strict
from prodproven.runner.spec.parts import (
    Competency,
    GraderSpec,
    ImageRecipe,
    PortSpec,
    Prepare,
    Reservation,
    Resources,
    ServiceRef,
    ServiceSpec,
    Setup,
)
from prodproven.runner.spec.requirements import RequirementSpec, check_requirements
from prodproven.runner.spec.validation import Calibration, Validation, check_calibration
from prodproven.sandbox.faults import FaultKind
from prodproven.sandbox.services import ServiceKind
from prodproven.sandbox.untrusted import UntrustedInput, confine, load_yaml, read_text

SPEC_FILE = "challenge.yaml"
BRIEF_MAX_BYTES = 2**20


class ChallengeSpec(_Strict):
    """The typed content of challenge.yaml."""

    id: str = Field(pattern=CHALLENGE_ID, description="lower-case id, equal to the folder name")
    title: str = Field(
        min_length=3, max_length=200, description="shown to candidates and assessors"
    )
    version: str = Field(pattern=VERSION, description="X.Y.Z; bump it when grading changes")
    summary: str = Field("", description="one paragraph for listings")
    time_limit_minutes: Annotated[
        float,
        Field(
            gt=0,
            le=24 * 60,
            description="the candidate's clock; scripted runs stop their autopilot at it",
        ),
    ]
    competencies: list[Competency] = Field(
        min_length=1, description="what the challenge assesses; each grader scores one"
    )
    resources: Resources = Field(
        default_factory=Resources, description="limits of every candidate container"
    )
    reservation: Reservation | None = Field(
        None,
        description="what one run holds of the machine's capacity while it has a pod "
        "(default: the sum of its containers' limits; docs/operations.md#capacity)",
    )
    image: ImageRecipe = Field(
        default_factory=ImageRecipe, description="the image the workspace and tests run in"
    )
    prepare: Prepare | None = Field(
        None, description="a generator of data and models, run once per version and variant"
    )
    services: list[ServiceRef] = Field(
        default_factory=list, description="trusted services started beside the workspace"
    )
    setup: Setup | None = Field(
        None, description="a script seeding the services before the clock starts"
    )
    service: ServiceSpec | None = Field(
        None, description="the candidate's service, which graders send requests to"
    )
    ports: list[PortSpec] = Field(
        default_factory=list, description="ports of the workspace `prodproven forward` publishes"
    )
    probe: ProbeSpec | None = Field(
        None, description="the SLO prober watching the live service for the whole run"
    )
    faults: list[FaultSpec] = Field(
        default_factory=list, description="the catalogue of faults incidents draw from"
    )
    schedule: list[ScheduledEvent] = Field(
        default_factory=list, description="the incidents fired while the candidate works"
    )
    graders: list[GraderSpec] = Field(
        min_length=1, description="how the submission is scored, run in this order"
    )
    requirements: list[RequirementSpec] = Field(
        default_factory=list,
        description="must-haves: a run passes only when every one is met; one missed caps "
        "the score below pass_score (docs/scoring.md)",
    )
    calibration: Calibration | None = Field(
        None,
        description="realistic submissions under calibration/<name>/ and where a practitioner "
        "would put them; `challenge validate` checks they land there",
    )
    validation: Validation = Field(
        default_factory=Validation, description="what `prodproven challenge validate` checks"
    )
    pass_score: float = Field(
        70, ge=0, le=100, description="score (after review) a run needs to earn a credential"
    )


@dataclass(frozen=True)
class Catalog:
    """What the installed plugins provide that specs may name: grader kinds (with their
    parameter models), service kinds and fault kinds."""

    grader_params: Mapping[str, type[BaseModel]]
    services: Mapping[str, ServiceKind]
    faults: Mapping[str, FaultKind]
    grader_conditions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """The conditions each grader kind offers requirements (kinds missing here: ``passed``)."""


@dataclass(frozen=True)
class Challenge:
    """A loaded challenge: its spec and where its folder is."""

    spec: ChallengeSpec
    root: Path

    @property
    def id(self) -> str:
        return self.spec.id

    def path(self, rel: str) -> Path:
        """``rel`` inside the challenge's folder; UntrustedInput when it would lead out."""
        confine(self.root, rel, what=f"challenge {self.id}: {rel}")
        return self.root / rel

    @property
    def brief(self) -> str:
        return read_text(
            self.path("brief.md"), what=f"challenge {self.id}: brief", max_bytes=BRIEF_MAX_BYTES
        )

    def services(self, catalog: Catalog) -> list[tuple[str, ServiceKind]]:
        """The declared services as (name, kind) pairs, in declaration order."""
        return [(ref.name, catalog.services[ref.kind]) for ref in self.spec.services]

    def fault(self, name: str) -> FaultSpec:
        """The catalogue's fault ``name``. Raises SpecError naming the known ones."""
        for fault in self.spec.faults:
            if fault.name == name:
                return fault
        known = [f.name for f in self.spec.faults]
        raise SpecError(str(self.root / SPEC_FILE), [f"no fault {name!r} (faults: {known})"])

    @property
    def live_service(self) -> ServiceSpec | None:
        """The service that runs while the candidate works, if the challenge has one."""
        service = self.spec.service
        return service if service is not None and service.during_run else None


def load_challenge(root: Path, catalog: Catalog) -> Challenge:
    """Load and check the challenge in folder ``root`` against the installed ``catalog``.

    Raises SpecError listing every problem with its field path.
    """
    spec_path = root / SPEC_FILE
    where = str(spec_path)
    if not os.path.lexists(spec_path):
        raise ChallengeNotFound(f"{root} has no {SPEC_FILE}")
    try:
        raw = load_yaml(
            read_text(confine(root, SPEC_FILE, what=SPEC_FILE), what=SPEC_FILE), what=SPEC_FILE
        )
    except UntrustedInput as exc:
        raise SpecError(where, [_unreadable(exc)]) from None
    if not isinstance(raw, dict):
        raise SpecError(where, [f"the top level must be a mapping, not {type(raw).__name__}"])
    try:
        spec = ChallengeSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(where, capped([describe(err) for err in exc.errors()])) from None
    problems = list(_check_graders(spec, catalog.grader_params))
    problems += list(check_requirements(spec.requirements, spec.graders, catalog.grader_conditions))
    problems += list(check_calibration(spec.calibration, root, {f.name for f in spec.faults}))
    problems += list(_check_services(spec, catalog.services))
    problems += list(
        check_incidents(spec.service, spec.probe, spec.faults, spec.schedule, catalog.faults)
    )
    problems += list(_check_files(spec, root))
    if spec.id != root.name:
        problems.append(f"id: {spec.id!r} must equal the folder name {root.name!r}")
    if problems:
        raise SpecError(where, capped(problems))
    return Challenge(spec=spec, root=root)


def _unreadable(exc: UntrustedInput) -> str:
    """Why the spec could not be read, without quoting its text (a challenge.yaml may be a
    link to a file that is not the author's to show)."""
    cause = exc.__cause__
    if isinstance(cause, yaml.MarkedYAMLError) and cause.problem_mark is not None:
        mark, problem = cause.problem_mark, str(cause.problem or "")[:200]
        return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(exc)


def _check_graders(
    spec: ChallengeSpec, grader_params: Mapping[str, type[BaseModel]]
) -> Iterable[str]:
    yield from twice("graders", [grader.name for grader in spec.graders])
    for index, grader in enumerate(spec.graders):
        where = f"graders.{index}"
        if grader.competency not in spec.competencies:
            yield (
                f"{where}.competency: {grader.competency.value!r} is not among the "
                f"challenge's competencies {[c.value for c in spec.competencies]}"
            )
        yield from check_kind(where, "grader", grader.kind, grader.params, grader_params)
        before = [g.name for g in spec.graders[:index]]
        for position, required in enumerate(grader.requires):
            if required not in before:
                yield (
                    f"{where}.requires.{position}: {required!r} is not a grader listed before "
                    f"this one (graders run in order; before it: {before})"
                )


def _check_services(spec: ChallengeSpec, kinds: Mapping[str, ServiceKind]) -> Iterable[str]:
    # Every container of a run shares one loopback, so ports must not collide.
    taken: dict[int, str] = {spec.service.port: "service.port"} if spec.service else {}
    yield from twice("services", [ref.name for ref in spec.services])
    for index, ref in enumerate(spec.services):
        where = f"services.{index}"
        kind = kinds.get(ref.kind)
        if kind is None:
            yield f"{where}.kind: unknown service kind {ref.kind!r} (known: {sorted(kinds)})"
            continue
        owner = taken.get(kind.port)
        if owner is not None:
            yield f"{where}: a {ref.kind} service listens on {kind.port}, already used by {owner}"
        taken[kind.port] = where
    if spec.setup is not None and not spec.services:
        yield "setup: a setup script needs at least one service to seed"


def _check_files(spec: ChallengeSpec, root: Path) -> Iterable[str]:
    """Every path the spec names stays inside the folder (no absolute path, no '..', no
    symbolic link leading out), and the files and folders a challenge needs are there."""
    named = {"image.recipe": spec.image.recipe}
    if spec.prepare:
        named["prepare.script"] = spec.prepare.script
    if spec.setup:
        named["setup.script"] = spec.setup.script
    confined = True
    for field_name, rel in named.items():
        try:
            confine(root, rel, what=field_name)
        except UntrustedInput as exc:
            confined = False
            yield str(exc)
    required = {"brief.md": "file", "workspace": "folder"}
    if confined:
        required[f"{spec.image.recipe}/Dockerfile"] = "file"
        required.update({rel: "file" for name, rel in named.items() if name != "image.recipe"})
    # Without a prepare script to generate it, the hidden material must be in the folder.
    if not spec.prepare:
        required["hidden"] = "folder"
    for rel, what in required.items():
        yield from _missing(root, rel, what)


def _missing(root: Path, rel: str, what: str) -> Iterable[str]:
    try:
        path = confine(root, rel, what=rel)
        ok = path.is_file() if what == "file" else path.is_dir()
    except UntrustedInput as exc:
        yield str(exc)
        return
    except OSError as exc:
        yield f"{rel}: cannot read the {what} {root / rel} ({exc.strerror})"
        return
    if not ok:
        yield f"{rel}: the {what} {root / rel} is missing"


def find_challenge(ref: str, search: Iterable[Path], catalog: Catalog) -> Challenge:
    """Resolve an id (found in the ``search`` folders) or a folder path to a loaded challenge
    (for the command line, whose user may name any folder).

    Raises ChallengeNotFound, or ChallengeClash when more than one search folder has the id.
    """
    if os.path.isfile(Path(ref) / SPEC_FILE):
        return load_challenge(Path(ref).resolve(), catalog)
    return _by_id(ref, search, catalog, "; or give a folder path")


def find_by_id(challenge_id: str, search: Iterable[Path], catalog: Catalog) -> Challenge:
    """The challenge with id ``challenge_id`` in the ``search`` folders: an id, never a path
    (for the web and the API). Anything that is not an id is ChallengeNotFound, whose message
    neither quotes it nor says whether such a path exists."""
    if not is_challenge_id(challenge_id):
        raise ChallengeNotFound(
            "no such challenge: an id is lower-case letters, digits and dashes (e.g. deploy-model)"
        )
    return _by_id(challenge_id, search, catalog, "")


def _by_id(ref: str, search: Iterable[Path], catalog: Catalog, hint: str) -> Challenge:
    found = challenge_folders(search)
    folders = found.get(ref)
    if folders is None:
        known = ", ".join(sorted(found)) or "none"
        raise ChallengeNotFound(f"no challenge {shown(ref)} (known: {known}{hint})")
    if len(folders) > 1:
        raise ChallengeClash(ref, folders)
    return load_challenge(folders[0], catalog)


@dataclass(frozen=True)
class Unloadable:
    """A challenge folder of the search path that does not load, and why (its spec is
    malformed or unreadable, or its id is used by more than one folder)."""

    id: str
    """The folder's name (the id it would have)."""
    folders: tuple[Path, ...]
    problem: str


def list_challenges(search: Iterable[Path], catalog: Catalog) -> list[Challenge | Unloadable]:
    """Every challenge found, or why it does not load: one bad folder never stops the others
    from being listed. An id found in more than one folder is listed once, as a clash."""
    found: list[Challenge | Unloadable] = []
    for challenge_id, folders in challenge_folders(search).items():
        try:
            if len(folders) > 1:
                raise ChallengeClash(challenge_id, folders)
            found.append(load_challenge(folders[0], catalog))
        except (ProdprovenError, OSError) as exc:
            found.append(Unloadable(challenge_id, tuple(folders), str(exc)))
    return found


def challenge_folders(search: Iterable[Path]) -> dict[str, list[Path]]:
    """The challenge folders inside the ``search`` folders by id (the folder's name), in search
    order; an id with more than one folder is a clash. A search folder named twice (e.g. the
    built-in one again on the command line) is searched once; one that cannot be read holds
    nothing. A folder whose challenge.yaml cannot even be looked at is found (its loading says
    why it does not load)."""
    by_id: dict[str, list[Path]] = {}
    for folder in dict.fromkeys(_resolved(folder) for folder in search):
        try:
            children = sorted(folder.iterdir()) if folder and folder.is_dir() else []
        except OSError:
            continue
        for child in children:
            if _has_spec(child):
                by_id.setdefault(child.name, []).append(child)
    return by_id


def _resolved(folder: Path) -> Path | None:
    try:
        return folder.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        return None


def _has_spec(child: Path) -> bool:
    try:
        os.lstat(child / SPEC_FILE)
    except OSError as exc:
        return exc.errno not in (errno.ENOENT, errno.ENOTDIR)
    return True
