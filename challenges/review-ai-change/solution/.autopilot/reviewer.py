"""The reference reviewer of review-ai-change: a scripted owner who knows the kinds of mistake
the assistant makes. It reads the pull request as the assistant left it (``git show
ai/change:PATH``, before committing anything), recognises each defect and each
right-but-suspicious spot by a signature of its code, writes review.md (a finding per defect
present, a misleading_claim finding per false claim of PR.md, nothing on correct code), commits
a minimal fix per defect on ai/change, and runs the visible tests (logged only).

A persona file next to this script (``persona.json``, added by a calibration submission)
changes the reviewer: ``{"misses": {"minor": 1}}`` neither reports nor fixes the first
defect of that severity it would have found (in the order of its tables);
``{"write_review": false}`` fixes everything and writes no review;
``{"flag_all_changed_lines": true}`` flags every changed line as a blocker and fixes nothing.

Usage: ``python3 reviewer.py [WORKSPACE] [--skip-tests]`` (WORKSPACE defaults to
$REVIEW_WORKSPACE, else /workspace).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from knowledge import (
    BASE,
    CATEGORIES,
    CLAIMS,
    DECOYS,
    DEFECTS,
    HEAD,
    Claim,
    Decoy,
    Defect,
    line_of,
)


@dataclass(frozen=True)
class Persona:
    misses: dict[str, int] = field(default_factory=dict)
    write_review: bool = True
    flag_all_changed_lines: bool = False

    @classmethod
    def load(cls, path: Path) -> Persona:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls(dict(data.get("misses", {})), bool(data.get("write_review", True)),
                   bool(data.get("flag_all_changed_lines", False)))  # fmt: skip


@dataclass
class Finding:
    file: str
    line: int
    category: str
    severity: str
    comment: str


@dataclass
class Review:
    verdict: str
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        """review.md: JSON-quoted values are valid YAML whatever the comment holds."""
        out = ["---", f"verdict: {self.verdict}", "findings:" + ("" if self.findings else " []")]
        for f in self.findings:
            out += [f"  - file: {json.dumps(f.file)}", f"    line: {f.line}",
                    f"    category: {f.category}", f"    severity: {f.severity}",
                    f"    comment: {json.dumps(f.comment)}"]  # fmt: skip
        out += ["---", "", "# Review of ai/change", "", *self.notes, ""]
        return "\n".join(out)


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True,
                              text=True).stdout  # fmt: skip

    def original(self, rel: str) -> str:
        """``rel`` as the assistant left it at the tip of ai/change ("" when absent)."""
        try:
            return self.git("show", f"{HEAD}:{rel}")
        except subprocess.CalledProcessError:
            return ""


def present_defects(repo: Repo) -> list[tuple[Defect, int]]:
    """Each defect whose signature is in the original ai/change, with its line there."""
    found = []
    for defect in DEFECTS:
        match = re.search(defect.sign, text := repo.original(defect.file), re.MULTILINE)
        if match:
            found.append((defect, line_of(text, match)))
    return found


def present_decoys(repo: Repo) -> list[Decoy]:
    return [d for d in DECOYS if re.search(d.sign, repo.original(d.file), re.MULTILINE)]


def false_claims(repo: Repo, pr: str) -> list[tuple[Claim, int]]:
    """Each false claim of PR.md with its line in PR.md."""
    out = []
    lines = pr.splitlines()
    for claim in CLAIMS:
        present = re.search(claim.sign, repo.original(claim.file), re.MULTILINE) is not None
        where = [i for i, line in enumerate(lines, start=1) if re.search(claim.line, line)]
        if present == claim.false_when_present and where:
            out.append((claim, where[0]))
    return out


def changed_lines(repo: Repo) -> list[tuple[str, int]]:
    """(file, line of the ai/change version) of every line the pull request adds or changes."""
    out: list[tuple[str, int]] = []
    current = ""
    for line in repo.git("diff", "-U0", f"{BASE}..{HEAD}").splitlines():
        if line.startswith("+++ "):
            current = line[4:].removeprefix("b/")
        elif hunk := re.match(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", line):
            start, count = int(hunk[1]), int(hunk[2] or "1")
            out += [(current, n) for n in range(start, start + count)]
    return out


def flag_everything(repo: Repo) -> Review:
    lines = changed_lines(repo)
    findings = [Finding(f, n, c, "blocker", "this line is risky and must be reworked")
                for (f, n), c in zip(lines, itertools.cycle(CATEGORIES))]  # fmt: skip
    return Review("request_changes", findings, ["Everything here needs another look."])


def review(repo: Repo, pr: str, persona: Persona) -> tuple[Review, list[Defect]]:
    """The review of the original ai/change, and the defects to fix."""
    missed = dict(persona.misses)
    defects = []
    for d, n in present_defects(repo):
        if missed.get(d.severity, 0) > 0:
            missed[d.severity] -= 1
        else:
            defects.append((d, n))
    claims = false_claims(repo, pr)
    findings = [Finding(d.file, n, d.category, d.severity, d.comment) for d, n in defects]
    findings += [Finding("PR.md", n, "misleading_claim", "major", c.comment) for c, n in claims]
    verdict = "request_changes" if findings else "approve"
    notes = [
        "The feature is wanted and most of it is sound; the findings above must be fixed "
        "before it ships. I have committed a fix for each on ai/change.",
        "",
        "Checked and right as written:",
        *(f"- {d.file}: {d.why_right}." for d in present_decoys(repo)),
    ]
    return Review(verdict, findings, notes), [d for d, _ in defects]


def apply_fixes(repo: Repo, defects: list[Defect]) -> None:
    """One commit per fix on ai/change; raises ValueError when a fix does not apply."""
    repo.git("checkout", "--quiet", HEAD)
    repo.git("config", "user.name", "Churn Owner")
    repo.git("config", "user.email", "owner@example.invalid")
    for defect in defects:
        path = repo.path / defect.file
        path.write_text(defect.fixed(path.read_text()))
        repo.git("commit", "--quiet", "-am", f"Fix {defect.id}: {defect.comment.split(':')[0]}")


def run_visible_tests(repo: Repo) -> None:
    """The visible tests on the fixed branch, logged only (the graders run their own)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    tests = subprocess.run(command, cwd=repo.path, env=env, capture_output=True, text=True)
    print(f"visible tests after the fixes: exit {tests.returncode}")
    print(tests.stdout[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "workspace",
        type=Path,
        nargs="?",
        default=Path(os.environ.get("REVIEW_WORKSPACE", "/workspace")),
    )
    parser.add_argument(
        "--skip-tests",
        action="store_true",
        help="do not run the visible tests afterwards (they need numpy)",
    )
    args = parser.parse_args()
    persona = Persona.load(Path(__file__).resolve().parent / "persona.json")
    repo = Repo(args.workspace / "repo")
    if persona.flag_all_changed_lines:
        (args.workspace / "review.md").write_text(flag_everything(repo).markdown())
        return
    written, defects = review(repo, (args.workspace / "PR.md").read_text(), persona)
    if persona.write_review:
        (args.workspace / "review.md").write_text(written.markdown())
    apply_fixes(repo, defects)
    if not args.skip_tests:
        run_visible_tests(repo)


if __name__ == "__main__":
    main()
