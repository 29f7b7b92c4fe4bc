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

from prodproven.runner.errors import ChallengeClash, ChallengeNotFound, SpecError
from prodproven.runner.spec.incidents import FaultSpec, ProbeSpec, ScheduledEvent, check_incidents
from prodproven.runner.spec.model import Strict as _Strict
from prodproven.runner.spec.model import check_kind, describe, twice
from prodproven.runner.spec.parts import (
    Competency,
    GraderSpec,
    ImageRecipe,
    PortSpec,
    Prepare,
    Resources,
    ServiceRef,
    ServiceSpec,
    Setup,
)
from prodproven.runner.spec.requirements import RequirementSpec, check_requirements
from prodproven.runner.spec.validation import Calibration, Validation, check_calibration
from prodproven.sandbox.faults import FaultKind
from prodproven.sandbox.services import ServiceKind

SPEC_FILE = "challenge.yaml"


class ChallengeSpec(_Strict):
    """The typed content of challenge.yaml."""

    id: str = Field(
        pattern=r"^[a-z][a-z0-9-]{1,62}$", description="lower-case id, equal to the folder name"
    )
    title: str = Field(min_length=3, description="shown to candidates and assessors")
    version: str = Field(
        pattern=r"^\d+\.\d+\.\d+$", description="X.Y.Z; bump it when grading changes"
    )
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
        return self.root / rel

    @property
    def brief(self) -> str:
        return (self.root / "brief.md").read_text()

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
    try:
        raw = yaml.safe_load(spec_path.read_text())
    except FileNotFoundError:
        raise ChallengeNotFound(f"{root} has no {SPEC_FILE}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(where, [f"not valid YAML{at}: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(raw, dict):
        raise SpecError(where, [f"the top level must be a mapping, not {type(raw).__name__}"])
    try:
        spec = ChallengeSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(where, [describe(err) for err in exc.errors()]) from None
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
        raise SpecError(where, problems)
    return Challenge(spec=spec, root=root)


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
    required = {"brief.md": "file", "workspace": "folder"}
    required[f"{spec.image.recipe}/Dockerfile"] = "file"
    # Without a prepare script to generate it, the hidden material must be in the folder.
    if spec.prepare:
        required[spec.prepare.script] = "file"
    else:
        required["hidden"] = "folder"
    if spec.setup:
        required[spec.setup.script] = "file"
    for rel, what in required.items():
        path = root / rel
        ok = path.is_file() if what == "file" else path.is_dir()
        if not ok:
            yield f"{rel}: the {what} {path} is missing"


def find_challenge(ref: str, search: Iterable[Path], catalog: Catalog) -> Challenge:
    """Resolve an id (found in the ``search`` folders) or a folder path to a loaded challenge.

    Raises ChallengeNotFound, or ChallengeClash when more than one search folder has the id.
    """
    as_path = Path(ref)
    if (as_path / SPEC_FILE).is_file():
        return load_challenge(as_path.resolve(), catalog)
    found = challenge_folders(search)
    folders = found.get(ref)
    if folders is None:
        known = ", ".join(sorted(found)) or "none"
        raise ChallengeNotFound(f"no challenge {ref!r} (known: {known}; or give a folder path)")
    if len(folders) > 1:
        raise ChallengeClash(ref, folders)
    return load_challenge(folders[0], catalog)


def list_challenges(
    search: Iterable[Path], catalog: Catalog
) -> list[Challenge | SpecError | ChallengeClash]:
    """Every challenge found, or the error that stops it from loading; an id found in more
    than one folder is listed once, as a ChallengeClash."""
    found: list[Challenge | SpecError | ChallengeClash] = []
    for challenge_id, folders in challenge_folders(search).items():
        if len(folders) > 1:
            found.append(ChallengeClash(challenge_id, folders))
            continue
        try:
            found.append(load_challenge(folders[0], catalog))
        except SpecError as exc:
            found.append(exc)
    return found


def challenge_folders(search: Iterable[Path]) -> dict[str, list[Path]]:
    """The challenge folders inside the ``search`` folders by id (the folder's name), in search
    order; an id with more than one folder is a clash. A search folder named twice (e.g. the
    built-in one again on the command line) is searched once."""
    by_id: dict[str, list[Path]] = {}
    for folder in dict.fromkeys(folder.resolve() for folder in search):
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if (child / SPEC_FILE).is_file():
                by_id.setdefault(child.name, []).append(child)
    return by_id
