"""review-ai-change's generator (challenges/review-ai-change/prepare/), on the host: it is
standard library and git only. Deterministic from the seed, a manifest the graders can trust
(line ranges computed from the generated text), and a repository that gives nothing away."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import BUILTIN
from tests.unit.reviewsupport import CATEGORIES

PREPARE = BUILTIN / "review-ai-change" / "prepare"
SEED, OTHER_SEED = 20261126, 7
HINTS = re.compile(
    r"\b(?:defects?|decoys?|bugs?|seeded|slots?|catalogue|manifest|hidden|planted)\b|@@[a-z]", re.I
)


def prepare_module(name: str) -> ModuleType:
    if str(PREPARE) not in sys.path:
        sys.path.insert(0, str(PREPARE))
    return importlib.import_module(name)


def generate(out: Path, seed: int) -> Path:
    subprocess.run(
        [sys.executable, str(PREPARE / "generate.py"), str(out), "--seed", str(seed)],
        check=True,
        capture_output=True,
    )
    return out


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def files_outside_git(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("review-gen")
    return {
        "one": generate(root / "one", SEED),
        "again": generate(root / "again", SEED),
        "other": generate(root / "other", OTHER_SEED),
    }


def manifest_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "hidden" / "manifest.json").read_text())
    return data


def test_the_same_seed_gives_the_same_files_and_commit_ids(outputs: dict[str, Path]) -> None:
    one, again = outputs["one"], outputs["again"]
    assert files_outside_git(one) == files_outside_git(again)
    for out in (one, again):
        assert git(out / "workspace" / "repo", "rev-parse", "--abbrev-ref", "HEAD").strip() == (
            "ai/change"
        )
    ids = [git(o / "workspace" / "repo", "rev-parse", "main", "ai/change") for o in (one, again)]
    assert ids[0] == ids[1]


def test_different_seeds_draw_different_material(outputs: dict[str, Path]) -> None:
    one, other = manifest_of(outputs["one"]), manifest_of(outputs["other"])
    assert one["head_commit"] != other["head_commit"]
    assert {d["id"] for d in one["defects"]} != {d["id"] for d in other["defects"]}
    variant = prepare_module("variant")
    draws = [variant.draw(seed) for seed in range(60)]
    assert len({tuple(sorted(d.id for d in draw.defects)) for draw in draws}) > 20
    assert len({tuple(sorted(d.id for d in draw.decoys)) for draw in draws}) > 4
    assert len({draw.false_claims for draw in draws}) == 3
    ranges: dict[str, set[tuple[int, int]]] = {}
    for draw in draws[:30]:
        for slot, (_, lines) in variant.change_files(draw)[1].items():
            ranges.setdefault(slot, set()).add(lines)
    moving = [slot for slot, seen in ranges.items() if len(seen) > 1]
    assert len(moving) >= len(ranges) // 2, "the draw should shift most snippets' lines"


def test_every_draw_keeps_the_variant_rules() -> None:
    variant = prepare_module("variant")
    for seed in range(300):
        draw = variant.draw(seed)
        assert len(draw.defects) == 5
        assert len({d.category for d in draw.defects}) == 5
        assert len({d.slot for d in draw.defects}) == 5
        assert {d.severity for d in draw.defects} == {"blocker", "major", "minor"}
        assert 2 <= len(draw.decoys) <= 3
        assert 1 <= len(draw.false_claims) <= 2


def test_the_catalogue_is_broad_enough() -> None:
    catalogue = prepare_module("catalogue")
    assert len(catalogue.DEFECTS) >= 12 and len(catalogue.DECOYS) >= 4
    used = {d.category for d in catalogue.DEFECTS}
    assert used == set(CATEGORIES) - {"misleading_claim"}
    assert len({d.id for d in catalogue.DEFECTS}) == len(catalogue.DEFECTS)
    for defect in catalogue.DEFECTS:
        assert defect.code.lines != catalogue.SLOTS[defect.slot].correct.lines, defect.id
    hidden = (PREPARE / "hidden" / "test_defects.py").read_text()
    feature = (PREPARE / "hidden" / "test_feature.py").read_text()
    for name in {t for d in catalogue.DEFECTS for t in d.tests}:
        assert f"def {name}(" in hidden
    for name in {t for d in catalogue.DECOYS for t in d.tests}:
        assert f"def {name}(" in feature


def test_every_slot_has_exactly_one_marker_in_the_templates() -> None:
    catalogue, variant = prepare_module("catalogue"), prepare_module("variant")
    markers = [
        m["name"]
        for text in variant.tree("change").values()
        for line in text.splitlines()
        if (m := variant.MARKER.match(line)) and m["name"] != "imports"
    ]
    assert sorted(markers) == sorted(catalogue.SLOTS)


def test_the_manifest_follows_the_contract(outputs: dict[str, Path]) -> None:
    for out in outputs.values():
        manifest = manifest_of(out)
        assert (manifest["repo"], manifest["base"], manifest["head"]) == (
            "repo",
            "main",
            "ai/change",
        )
        defects, decoys = manifest["defects"], manifest["decoys"]
        assert {d["severity"] for d in defects} == {"blocker", "major", "minor"}
        assert len({d["category"] for d in defects}) == len(defects) == 5
        assert {d["category"] for d in defects} <= set(CATEGORIES)
        assert 2 <= len(decoys) <= 3
        assert all(d["looks_like"] in CATEGORIES and d["why_right"] for d in decoys)
        for entry in defects:
            assert all(re.fullmatch(r"test_defects\.py::test_\w+", t) for t in entry["tests"])
        assert all(
            re.fullmatch(r"test_feature\.py::test_\w+", t) for t in manifest["feature_tests"]
        )
        kinds = {c["id"]: c["kind"] for c in manifest["claims"]}
        assert kinds == {"tests": "true", "latency": "ratio", "auc": "delta"}
        repo = out / "workspace" / "repo"
        assert git(repo, "rev-parse", "main").strip() == manifest["base_commit"]
        assert git(repo, "rev-parse", "ai/change").strip() == manifest["head_commit"]


def test_line_ranges_point_at_the_drawn_snippets(outputs: dict[str, Path]) -> None:
    catalogue, variant = prepare_module("catalogue"), prepare_module("variant")
    for out in outputs.values():
        manifest = manifest_of(out)
        repo = out / "workspace" / "repo"
        drawn = variant.draw(SEED if out.name != "other" else OTHER_SEED)
        entries = [(d, e) for d in drawn.defects for e in manifest["defects"] if e["id"] == d.id]
        entries += [(d, e) for d in drawn.decoys for e in manifest["decoys"] if e["id"] == d.id]
        assert len(entries) == len(manifest["defects"]) + len(manifest["decoys"])
        for item, entry in entries:
            text = git(repo, "show", f"{manifest['head_commit']}:{entry['file']}").splitlines()
            start, end = entry["lines"]
            assert [line.strip() for line in text[start - 1 : end]] == [
                line.strip() for line in item.code.lines
            ], entry["id"]
            assert catalogue.SLOTS[item.slot].file == entry["file"]


def test_claim_lines_point_at_the_claims_in_the_pull_request(outputs: dict[str, Path]) -> None:
    manifest = manifest_of(outputs["one"])
    lines = (outputs["one"] / "workspace" / "PR.md").read_text().splitlines()
    for claim in manifest["claims"]:
        start, end = claim["lines"]
        assert start == end and lines[start - 1] == f"- {claim['text']}"


def test_the_change_is_large_and_made_by_the_assistant(outputs: dict[str, Path]) -> None:
    repo = outputs["one"] / "workspace" / "repo"
    numstat = git(repo, "diff", "--numstat", "main", "ai/change").splitlines()
    changed = sum(int(a) + int(b) for a, b, _ in (row.split("\t") for row in numstat))
    assert changed >= 300 and len(numstat) >= 5
    authors = git(repo, "log", "--format=%an <%ae>", "main..ai/change").splitlines()
    assert 3 <= len(authors) <= 4
    assert set(authors) == {"Code Assistant <assistant@example.invalid>"}
    assert not git(repo, "status", "--porcelain")


def test_nothing_in_the_repository_or_pr_hints_at_what_is_seeded(
    outputs: dict[str, Path],
) -> None:
    for out in outputs.values():
        repo = out / "workspace" / "repo"
        history = git(repo, "log", "--all", "-p", "--format=%an %ae%n%s%n%b")
        text = history + (out / "workspace" / "PR.md").read_text()
        assert not [m.group(0) for m in HINTS.finditer(text)]
        assert sorted(p.name for p in (out / "workspace").iterdir()) == ["PR.md", "repo"]


def test_the_hidden_material_is_complete(outputs: dict[str, Path]) -> None:
    hidden = outputs["one"] / "hidden"
    names = {p.relative_to(hidden).as_posix() for p in hidden.rglob("*") if p.is_file()}
    assert names == {
        "manifest.json",
        "repo.bundle",
        "tests/conftest.py",
        "tests/test_defects.py",
        "tests/test_feature.py",
        "claims/measure.py",
        "claims/train.csv",
        "claims/holdout.csv",
        "claims/requests.json",
    }
    tests = (hidden / "tests" / "test_defects.py").read_text()
    wanted = {t.split("::")[1] for d in manifest_of(outputs["one"])["defects"] for t in d["tests"]}
    assert set(re.findall(r"^def (test_\w+)", tests, re.M)) == wanted
    heads = git(
        outputs["one"] / "workspace" / "repo", "bundle", "list-heads", str(hidden / "repo.bundle")
    )
    assert {line.split()[1] for line in heads.splitlines()} == {
        "refs/heads/main",
        "refs/heads/ai/change",
    }


def test_the_catalogue_the_brief_and_the_spec_list_the_same_categories() -> None:
    assert list(prepare_module("catalogue").CATEGORIES) == CATEGORIES
    brief = (BUILTIN / "review-ai-change" / "brief.md").read_text()
    assert all(f"`{category}`" in brief for category in CATEGORIES)


def test_the_reviewer_can_commit_at_once_without_naming_themselves(
    outputs: dict[str, Path], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(outputs["one"] / "workspace" / "repo", repo)
    (repo / "NOTES.md").write_text("reviewed\n")
    git(repo, "add", "NOTES.md")
    isolated = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "HOME": str(tmp_path)}
    subprocess.run(
        ["git", "commit", "-q", "-m", "notes"],
        cwd=repo,
        check=True,
        env={**os.environ, **isolated},
    )
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == (
        "Reviewer <reviewer@example.invalid>"
    )
