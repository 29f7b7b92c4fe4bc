"""What the ``review``, ``fixes`` and ``claims`` graders share: the hidden defect manifest of a
generated pull request, and the candidate's review.md read as data.

review.md starts with YAML front matter (read with the bounded loader, through
graders/frontmatter.py)::

    verdict: request_changes          # or approve
    findings:
      - {file: service/cache.py, line: 42, category: concurrency, severity: blocker,
         comment: "..."}

A document-level problem (no front matter, no ``verdict`` or ``findings`` key, a verdict that
is neither, findings that are not a list) makes the review unreadable: DocumentInvalid, and
the grader scores 0 with the reason. A single bad finding (not a mapping, a key missing or of
the wrong type, an unknown severity) does not void the others: it is kept as a :class:`Malformed`
entry naming its index and key, which the review grader counts as unmatched. At most
``MAX_FINDINGS`` findings are read.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prodproven.graders.base import EvaluationEnvironment, read_hidden
from prodproven.graders.frontmatter import (
    Document,
    DocumentInvalid,
    parse_document,
    read_document,
)

Severity = Literal["blocker", "major", "minor"]
SEVERITIES: tuple[Severity, ...] = ("blocker", "major", "minor")
SEVERITY_WEIGHTS: dict[Severity, float] = {"blocker": 3.0, "major": 2.0, "minor": 1.0}
"""How much a seeded defect of each severity weighs in recall and in the fixed fraction."""
VERDICTS = ("request_changes", "approve")
CLAIMS_FILE = "pr.md"
"""The pull request's description (compared in lower case): findings on it are call-outs of
its claims, the claims grader's, never the review grader's."""
MISLEADING_CLAIM = "misleading_claim"
MAX_FINDINGS = 2000
"""The most findings of one review that are read; the rest are ignored with a note."""
KEYS = ("file", "line", "category", "severity", "comment")
_COMMIT = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


class _Entry(BaseModel):
    """Hidden material the generator wrote: extra keys are allowed (and ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Located(_Entry):
    id: str = Field(min_length=1)
    lines: tuple[int, int]
    """1-based, inclusive."""

    @field_validator("lines")
    @classmethod
    def _ordered(cls, lines: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= lines[0] <= lines[1]:
            raise ValueError(f"{list(lines)} is not a range of 1-based line numbers")
        return lines

    def distance(self, line: int) -> int:
        """How many lines ``line`` lies outside ``lines`` (0 inside)."""
        return max(self.lines[0] - line, line - self.lines[1], 0)


class ManifestDefect(_Located):
    file: str = Field(min_length=1)
    category: str
    severity: Severity
    title: str = ""
    tests: list[str] = Field(min_length=1)


class ManifestDecoy(_Located):
    file: str = Field(min_length=1)
    looks_like: str = ""
    why_right: str = ""


class ManifestClaim(_Located):
    kind: Literal["ratio", "delta", "true"]
    metric: str = Field(min_length=1)
    text: str = ""
    at_most: float | None = None
    within: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _threshold(self) -> ManifestClaim:
        if self.kind == "ratio" and self.at_most is None:
            raise ValueError(f"claim {self.id}: a ratio claim needs at_most")
        if self.kind == "delta" and self.within is None:
            raise ValueError(f"claim {self.id}: a delta claim needs within")
        return self


class Manifest(_Entry):
    repo: str = "repo"
    base: str = "main"
    head: str = "ai/change"
    base_commit: str
    head_commit: str
    defects: list[ManifestDefect] = Field(min_length=1)
    decoys: list[ManifestDecoy] = Field(default_factory=list)
    claims: list[ManifestClaim] = Field(default_factory=list)
    feature_tests: list[str] = Field(default_factory=list)

    @field_validator("base_commit", "head_commit")
    @classmethod
    def _commit(cls, sha: str) -> str:
        if not _COMMIT.match(sha):
            raise ValueError(f"{sha!r} is not a full commit id")
        return sha

    @field_validator("feature_tests")
    @classmethod
    def _test_ids(cls, ids: list[str]) -> list[str]:
        for test in ids:
            test_id(test)
        return ids

    @field_validator("defects")
    @classmethod
    def _defect_tests(cls, defects: list[ManifestDefect]) -> list[ManifestDefect]:
        for defect in defects:
            for test in defect.tests:
                test_id(test)
        return defects


def test_id(test: str) -> tuple[str, str]:
    """A manifest test id ``FILE::NAME`` (FILE relative to the hidden tests folder) as the
    JUnit ``classname`` and ``name`` pytest reports for it when the folder is /grading/tests.
    Raises ValueError for another form."""
    path, sep, name = test.partition("::")
    if not sep or not path.endswith(".py") or not name or "::" in name:
        raise ValueError(f"test {test!r} is not of the form FILE.py::NAME")
    return "tests." + path.removesuffix(".py").replace("/", "."), name


def read_manifest(env: EvaluationEnvironment, rel: str) -> Manifest:
    """The hidden manifest; GraderError naming its first problem."""
    return read_hidden(env, rel, Manifest, "a defect manifest")


def norm_path(path: str, repo: str = "repo") -> str:
    """A path as a finding or the manifest writes it, compared: "./", "/workspace/" and
    "``repo``/" prefixes removed, backslashes as slashes, "a/./b" and "a//b" as "a/b"."""
    text = posixpath.normpath(path.strip().replace("\\", "/")) if path.strip() else ""
    for prefix in ("/workspace/", f"{repo}/"):
        text = text.removeprefix(prefix)
    return text


@dataclass(frozen=True)
class ReviewFinding:
    """One well-formed finding; ``index`` counts from 1 in the order written."""

    index: int
    file: str
    line: int
    category: str
    severity: str
    comment: str

    @property
    def on_claims(self) -> bool:
        return self.file.lower() == CLAIMS_FILE

    def brief(self) -> dict[str, Any]:
        """The finding as evidence (the comment shortened)."""
        return {
            "finding": self.index,
            "file": self.file,
            "line": self.line,
            "category": self.category,
            "severity": self.severity,
            "comment": self.comment[:200],
        }


@dataclass(frozen=True)
class Malformed:
    """A finding that cannot be read: ``problem`` names its index and key."""

    index: int
    problem: str


@dataclass(frozen=True)
class Review(Document):
    """The parsed document: its front matter and sections, and what they say."""

    verdict: str
    findings: list[ReviewFinding | Malformed]
    written: int
    """How many findings the document holds (more than ``findings`` past MAX_FINDINGS)."""
    notes: list[str] = field(default_factory=list)


def parse_review(text: str, repo: str = "repo") -> Review:
    """review.md's front matter as a :class:`Review` (paths normalised with ``repo``). Raises
    DocumentInvalid for a document-level problem."""
    document = parse_document(text, required=("verdict", "findings"))
    front = document.front
    verdict = re.sub(r"[\s-]+", "_", str(front["verdict"]).strip().lower())
    if verdict not in VERDICTS:
        shown = _shown(front["verdict"])
        raise DocumentInvalid(f"verdict: {shown} is not one of {', '.join(VERDICTS)}")
    raw = front["findings"] or []
    if not isinstance(raw, list):
        raise DocumentInvalid(
            f"findings must be a list of mappings with {', '.join(KEYS)}, not {type(raw).__name__}"
        )
    notes = []
    if len(raw) > MAX_FINDINGS:
        notes.append(f"only the first {MAX_FINDINGS} of {len(raw)} findings were read")
    findings = [_finding(i, item, repo) for i, item in enumerate(raw[:MAX_FINDINGS], start=1)]
    return Review(front, document.sections, verdict, findings, len(raw), notes)


def _finding(index: int, item: Any, repo: str) -> ReviewFinding | Malformed:
    where = f"finding {index}"
    if not isinstance(item, dict):
        return Malformed(index, f"{where} is not a mapping with {', '.join(KEYS)}")
    missing = [key for key in KEYS if key not in item]
    if missing:
        return Malformed(index, f"{where} lacks {', '.join(missing)}")
    for key in ("file", "category", "severity", "comment"):
        if not isinstance(item[key], str) or (key != "comment" and not item[key].strip()):
            return Malformed(index, f"{where}: {key} {_shown(item[key])} is not a non-empty text")
    line = item["line"]
    if isinstance(line, bool) or not isinstance(line, int) or line < 1:
        return Malformed(index, f"{where}: line {_shown(line)} is not a line number (1, 2, ...)")
    severity = item["severity"].strip().lower()
    if severity not in SEVERITIES:
        return Malformed(
            index, f"{where}: severity {_shown(item['severity'])} is not one of "
            f"{', '.join(SEVERITIES)}"
        )  # fmt: skip
    return ReviewFinding(index, norm_path(item["file"], repo), line,
                         item["category"].strip().lower(), severity, item["comment"])  # fmt: skip


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def read_review(env: EvaluationEnvironment, rel: str, repo: str = "repo") -> Review:
    """The workspace's review file parsed; DocumentInvalid ("review.md is missing from the
    workspace", "review.md cannot be read: ...")."""
    return read_document(env, rel, lambda text: parse_review(text, repo))
