"""The Open Badges 3.0 ``AchievementCredential`` JSON Schema (1EdTech, draft 2019-09), vendored
unmodified in ``runner/schemas/openbadges-3.0/`` with its licence and attribution, and checked
against its pinned SHA-256 before use: the licence forbids changing it, and a schema edited to
accept anything would make the check say nothing.

Every ``$ref`` of the schema points inside it; any other would be refused rather than fetched
(the registry knows only this schema and retrieves nothing), so validation is offline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft201909Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT201909

from prodproven.runner.errors import CredentialError

SCHEMA_DIR = "schemas/openbadges-3.0"
SCHEMA_FILE = "ob_v3p0_achievementcredential_schema.json"
SCHEMA_SHA256 = "5753fb3ecf7d024ed273dd364bd683f483eb47257e718e6618832cf89eb2083a"
"""The 1EdTech file of 2025-03-27 (see the README beside it)."""
_LONGEST = 200


@dataclass(frozen=True)
class Violation:
    """One way a document breaks the schema: where (a JSON path such as ``$.proof``) and how."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def vendored_path() -> Path:
    """The vendored schema file inside the installed package."""
    package = resources.files("prodproven.runner.credentials")
    return Path(str(package.joinpath(SCHEMA_DIR, SCHEMA_FILE)))


def load(path: Path) -> dict[str, Any]:
    """The schema at ``path``. Raises CredentialError when the file is missing, is not the
    pinned file byte for byte, or is not JSON."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CredentialError(f"the Open Badges 3.0 schema {path} cannot be read: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SCHEMA_SHA256:
        raise CredentialError(
            f"the Open Badges 3.0 schema {path} has sha256 {digest}, not the pinned "
            f"{SCHEMA_SHA256}: it was modified; restore the 1EdTech file unmodified"
        )
    schema: dict[str, Any] = json.loads(data)
    return schema


@cache
def _validator(path: Path) -> Draft201909Validator:
    schema = load(path)
    resource = Resource.from_contents(schema, default_specification=DRAFT201909)
    registry: Registry[Any] = Registry().with_resource(schema["$id"], resource)
    return Draft201909Validator(schema, registry=registry)


def violations(document: Any, path: Path | None = None) -> list[Violation]:
    """Every way ``document`` breaks the schema (empty when it conforms), in document order.
    Raises CredentialError when the schema file is not the pinned one, or when it would need
    a schema from elsewhere (never fetched)."""
    validator = _validator(path or vendored_path())
    try:
        errors = sorted(validator.iter_errors(document), key=_position)
    except Unresolvable as exc:
        raise CredentialError(f"the schema refers to {exc}, which is not vendored") from None
    return [Violation(e.json_path, _short(e.message)) for e in errors]


def _position(error: ValidationError) -> list[str]:
    return [str(part) for part in error.absolute_path]


def _short(message: str) -> str:
    return message if len(message) <= _LONGEST else message[: _LONGEST - 3] + "..."
