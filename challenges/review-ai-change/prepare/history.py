"""The repository's git history: the team's commits on main, the assistant's on ai/change, with
fixed authors and dates so the same files give the same commit ids, and the bundle of both
branches as generated."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

BASE, HEAD = "main", "ai/change"
ASSISTANT = ("Code Assistant", "assistant@example.invalid")
REVIEWER = ("Reviewer", "reviewer@example.invalid")
"""Who the candidate's own commits are by, unless they set their own name (git config)."""


@dataclass(frozen=True)
class Commit:
    author: tuple[str, str]
    date: str
    message: str
    paths: tuple[str, ...]
    """Path prefixes of the files this commit adds or changes."""


MAIN_COMMITS = (
    Commit(
        ("Priya Raman", "priya.raman@example.com"),
        "2026-09-14T10:12:00+00:00",
        "Churn model: features, logistic regression and the training pipeline",
        (".gitignore", "README.md", "pyproject.toml", "requirements.txt", "churn/"),
    ),
    Commit(
        ("Tomasz Nowak", "tomasz.nowak@example.com"),
        "2026-09-22T15:40:00+00:00",
        "Scoring service: POST /score with the v3 model",
        ("service/", "models/"),
    ),
    Commit(
        ("Priya Raman", "priya.raman@example.com"),
        "2026-10-02T09:05:00+00:00",
        "Tests for features, model, pipeline and service",
        ("tests/",),
    ),
)
CHANGE_COMMITS = (
    Commit(
        ASSISTANT,
        "2026-11-24T13:02:00+00:00",
        "Add a per-customer feature cache to single-request scoring",
        ("service/cache.py", "service/scoring.py", "tests/test_cache.py"),
    ),
    Commit(
        ASSISTANT,
        "2026-11-24T13:31:00+00:00",
        "Add batch scoring: POST /score/batch with vectorised features",
        ("churn/features.py", "service/", "tests/test_batch.py", "README.md"),
    ),
    Commit(
        ASSISTANT,
        "2026-11-24T14:05:00+00:00",
        "Speed up retraining: sampled fit with early stopping",
        ("churn/", "requirements.txt", "tests/"),
    ),
)


class Git:
    """git in one repository, isolated from the user's and the system's configuration."""

    def __init__(self, repo: Path, home: Path) -> None:
        self.repo = repo
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "LC_ALL": "C",
            "TZ": "UTC",
        }

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(
            ["git", "-c", "pack.threads=1", "-c", "core.autocrlf=false", *args],
            cwd=self.repo,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def commit(self, commit: Commit) -> None:
        name, email = commit.author
        self("add", "--all", "--", *(p.rstrip("/") for p in commit.paths if self.exists(p)))
        self(
            "commit",
            "--quiet",
            "--no-gpg-sign",
            "-m",
            commit.message,
            env={
                "GIT_AUTHOR_NAME": name,
                "GIT_AUTHOR_EMAIL": email,
                "GIT_AUTHOR_DATE": commit.date,
                "GIT_COMMITTER_NAME": name,
                "GIT_COMMITTER_EMAIL": email,
                "GIT_COMMITTER_DATE": commit.date,
            },
        )

    def exists(self, prefix: str) -> bool:
        return (self.repo / prefix.rstrip("/")).exists()


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def build(
    repo: Path, main: dict[str, str | bytes], change: dict[str, str], scratch: Path
) -> tuple[str, str]:
    """Create ``repo`` with main's files in MAIN_COMMITS and ai/change's on top in
    CHANGE_COMMITS; ai/change is checked out. Returns (main's sha, ai/change's sha)."""
    repo.mkdir(parents=True)
    git = Git(repo, scratch)
    git("init", "--quiet", "--initial-branch", BASE)
    write(repo, dict(main))
    for commit in MAIN_COMMITS:
        git.commit(commit)
    git("checkout", "--quiet", "-b", HEAD)
    write(repo, dict(change))
    for commit in CHANGE_COMMITS:
        git.commit(commit)
    if git("status", "--porcelain"):
        raise RuntimeError("files of ai/change were left out of its commits")
    # The reviewer's own commits work at once, without asking who they are.
    git("config", "user.name", REVIEWER[0])
    git("config", "user.email", REVIEWER[1])
    return git("rev-parse", BASE), git("rev-parse", HEAD)


def bundle(repo: Path, out: Path, scratch: Path) -> None:
    """``git bundle`` of both branches as generated (the claims grader measures these)."""
    Git(repo, scratch)("bundle", "create", "--quiet", str(out), BASE, HEAD)
