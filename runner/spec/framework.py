"""Competency frameworks and role profiles as data (docs/teams.md#frameworks-and-role-profiles).

A *framework* names competencies, each with a label, a description and five levels; a level is
reached when a competency's current value (0-100, runner/people/track_record.py) is at least
its floor. The built-in framework (``frameworks/builtin.yaml``, package data) holds the
competencies prodproven's own challenges measure; a firm adds its own as YAML, without code.

A challenge's grader names a built-in competency by its id (``deployment``) and a competency of
another framework as ``FRAMEWORK/COMPETENCY`` (``acme/data_quality``): the form a result
document, the track record and a role profile's requirements use for it too.

A *role profile* is a named set of required levels, one framework's competencies each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.spec.model import Strict, capped, describe
from prodproven.sandbox.untrusted import load_yaml, read_text

BUILTIN_ID = "builtin"
"""The built-in framework's id: its competencies are named without a prefix."""
FRAMEWORK_ID = r"^[a-z][a-z0-9_-]{0,31}$"
COMPETENCY_ID = r"^[a-z][a-z0-9_]{0,47}$"
FOREIGN_COMPETENCY = r"^[a-z][a-z0-9_-]{0,31}/[a-z][a-z0-9_]{0,47}$"
"""A competency of a framework other than the built-in one, as challenges name it."""
LEVELS = range(1, 6)
MAX_NAME = 100
MAX_TEXT = 2000
BUILTIN_FILE = Path(__file__).parent / "frameworks" / "builtin.yaml"


class FrameworkError(ProdprovenError):
    """A framework or role profile is invalid (the message names the file or request, and
    each field with its problem) or cannot be changed as asked."""


class FrameworkNotFound(FrameworkError):
    """The firm has no framework with that id."""


class RoleProfileNotFound(FrameworkError):
    """The firm has no role profile with that name."""


class _Document(Strict):
    KIND: ClassVar[str]
    """What people call a document of this kind, in messages."""


class Level(Strict):
    level: int = Field(ge=1, le=5, description="1 (lowest) to 5")
    floor: float = Field(ge=0, le=100, description="the least current value (0-100) it needs")
    means: str = Field(min_length=1, max_length=MAX_TEXT, description="what it means, for people")


class CompetencyDef(Strict):
    id: str = Field(pattern=COMPETENCY_ID, description="lower case, digits and _")
    label: str = Field(min_length=1, max_length=MAX_NAME, description="as people read it")
    description: str = Field(min_length=1, max_length=MAX_TEXT)
    levels: list[Level] = Field(description="levels 1 to 5 in order, floors rising, 1's at 0")

    @model_validator(mode="after")
    def _five_rising_levels(self) -> CompetencyDef:
        if [lv.level for lv in self.levels] != list(LEVELS):
            raise ValueError("levels must be 1, 2, 3, 4 and 5, in that order")
        floors = [lv.floor for lv in self.levels]
        if floors[0] != 0 or any(a >= b for a, b in zip(floors, floors[1:], strict=False)):
            raise ValueError(f"floors must start at 0 and rise, not {floors}")
        return self

    def level_of(self, value: float) -> int:
        """The highest level whose floor ``value`` (0-100) reaches."""
        return max(lv.level for lv in self.levels if value >= lv.floor)


class Framework(_Document):
    KIND = "framework"

    id: str = Field(pattern=FRAMEWORK_ID, description="unique within the firm")
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field("", max_length=MAX_TEXT)
    competencies: list[CompetencyDef] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_ids(self) -> Framework:
        ids = [c.id for c in self.competencies]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"competency ids must be unique: {twice} appear more than once")
        return self

    def competency(self, competency_id: str) -> CompetencyDef:
        """Raises FrameworkError for an id the framework does not have."""
        for found in self.competencies:
            if found.id == competency_id:
                return found
        known = [c.id for c in self.competencies]
        raise FrameworkError(f"framework {self.id!r} has no competency {competency_id!r}: {known}")

    def qualified(self, competency_id: str) -> str:
        """The competency's id as challenges, results and the track record name it."""
        return competency_id if self.id == BUILTIN_ID else f"{self.id}/{competency_id}"


class RoleProfile(_Document):
    """A role's required level of each competency it names, of one framework."""

    KIND = "role profile"

    name: str = Field(min_length=1, max_length=MAX_NAME, description='e.g. "ML engineer II"')
    framework: str = Field(BUILTIN_ID, pattern=FRAMEWORK_ID, description="whose competencies")
    description: str = Field("", max_length=MAX_TEXT)
    requires: dict[
        Annotated[str, Field(pattern=COMPETENCY_ID)], Annotated[int, Field(ge=1, le=5)]
    ] = Field(min_length=1, max_length=100, description="competency id -> required level (1-5)")

    @field_validator("name")
    @classmethod
    def _trimmed(cls, name: str) -> str:
        if name != name.strip():
            raise ValueError("must not start or end with spaces")
        return name

    def checked(self, framework: Framework) -> RoleProfile:
        """Itself, when ``framework`` has every competency it requires. Raises FrameworkError."""
        unknown = sorted(set(self.requires) - {c.id for c in framework.competencies})
        if unknown:
            raise FrameworkError(
                f"role profile {self.name!r}: framework {framework.id!r} has no competency "
                f"{', '.join(map(repr, unknown))}"
            )
        return self


_Doc = TypeVar("_Doc", bound=_Document)


def parsed(model: type[_Doc], data: Any, where: str) -> _Doc:
    """``data`` as ``model``. Raises FrameworkError naming ``where`` and each field's problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = capped([_problem(e) for e in exc.errors()])
        lines = "\n".join(f"  - {p}" for p in problems)
        raise FrameworkError(f"invalid {model.KIND} {where}:\n{lines}") from None


def _problem(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        where = ".".join(str(part) for part in err["loc"])
        return f"{where}: unknown field (check the spelling; see docs/teams.md)"
    return describe(err)


def load(model: type[_Doc], path: Path) -> _Doc:
    """A framework or role profile from its YAML file. Raises FrameworkError naming the file and
    each field, UntrustedInput for a file too large or not YAML."""
    return parsed(model, _read(path), str(path))


def load_either(path: Path) -> Framework | RoleProfile:
    """The framework (it has ``competencies``) or else role profile a YAML file holds. Raises
    FrameworkError naming the file and each field, UntrustedInput for a file too large or not
    YAML."""
    data = _read(path)
    if isinstance(data, dict) and "competencies" in data:
        return parsed(Framework, data, str(path))
    return parsed(RoleProfile, data, str(path))


def _read(path: Path) -> Any:
    return load_yaml(read_text(path, what=str(path)), what=str(path))


BUILTIN = load(Framework, BUILTIN_FILE)
"""The built-in framework (``frameworks/builtin.yaml``)."""
