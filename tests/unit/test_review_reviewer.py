"""review-ai-change's reference reviewer (solution/.autopilot/reviewer.py) and the ladder
personas that extend it, on the host: its signatures find exactly the drawn defects, decoys
and false claims of any variant; run on generated material it writes a review the real review
and claims graders score in full, and commits fixes that leave no defect behind; each persona
(calibration/<name>/.autopilot/persona.json) changes only what it says.

The hidden tests need numpy (absent from the host's environment): that the fixed branch
passes them is tests/integration/test_review_material.py's job."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from prodproven.graders.claims import call_outs
from prodproven.graders.findings import SEVERITY_WEIGHTS, Manifest, ReviewFinding, parse_review
from prodproven.graders.review import ReviewParams, f2, score_review
from tests.conftest import BUILTIN
from tests.unit.test_review_generator import generate, git, prepare_module

CHALLENGE = BUILTIN / "review-ai-change"
AUTOPILOT = CHALLENGE / "solution" / ".autopilot"
SEEDS = (3, 26, 124, 149)  # together they draw every defect and decoy of the catalogue
PERSONA_SEED = 3  # draws a minor defect and two decoys


def knowledge() -> ModuleType:
    """The reviewer's tables (imported like the generator's modules: its folder on sys.path)."""
    if str(AUTOPILOT) not in sys.path:
        sys.path.insert(0, str(AUTOPILOT))
    return importlib.import_module("knowledge")


REF = knowledge()


def review_params() -> ReviewParams:
    spec = yaml.safe_load((CHALLENGE / "challenge.yaml").read_text())
    (params,) = [g["params"] for g in spec["graders"] if g["kind"] == "review"]
    return ReviewParams(**params)


def run_reviewer(material: Path, out: Path, persona: str | None = None) -> Path:
    """A copy of ``material``'s workspace reviewed by the reviewer, overlaid with the
    persona's calibration folder as `extends: reference` would; returns the workspace."""
    workspace = out / "workspace"
    shutil.copytree(material / "workspace", workspace)
    autopilot = out / ".autopilot"
    shutil.copytree(AUTOPILOT, autopilot, ignore=shutil.ignore_patterns("__pycache__"))
    if persona is not None:
        shutil.copytree(CHALLENGE / "calibration" / persona / ".autopilot", autopilot,
                        dirs_exist_ok=True)  # fmt: skip
    subprocess.run([sys.executable, str(autopilot / "reviewer.py"), str(workspace), "--skip-tests"],
                   check=True, capture_output=True)  # fmt: skip
    return workspace


@pytest.fixture(scope="module")
def materials(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("review-ref")
    return {seed: generate(root / str(seed), seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def reviewed(
    materials: dict[int, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("reviewed")
    return {seed: run_reviewer(out, root / str(seed)) for seed, out in materials.items()}


def manifest_of(material: Path) -> Manifest:
    return Manifest.model_validate_json((material / "hidden" / "manifest.json").read_text())


def branch_file(workspace: Path, rel: str) -> str:
    return git(workspace / "repo", "show", f"ai/change:{rel}")


def signatures_left(workspace: Path) -> list[str]:
    return [d.id for d in REF.DEFECTS
            if re.search(d.sign, branch_file(workspace, d.file), re.MULTILINE)]  # fmt: skip


def test_the_tables_cover_the_catalogue() -> None:
    catalogue = prepare_module("catalogue")
    assert {d.id for d in REF.DEFECTS} == {d.id for d in catalogue.DEFECTS}
    assert {d.id for d in REF.DECOYS} == {d.id for d in catalogue.DECOYS}
    assert {c.id for c in REF.CLAIMS} == set(catalogue.CLAIM_CODE)
    assert {d.id: d.category for d in REF.DEFECTS} == {d.id: d.category for d in catalogue.DEFECTS}
    assert {d.id: d.severity for d in REF.DEFECTS} == {d.id: d.severity for d in catalogue.DEFECTS}


@pytest.mark.parametrize("seed", range(0, 120, 3))
def test_signatures_find_exactly_the_drawn_material_inside_its_lines(seed: int) -> None:
    variant = prepare_module("variant")
    drawn = variant.draw(seed)
    files, where = variant.change_files(drawn)
    slots = {d.id: d.slot for d in (*drawn.defects, *drawn.decoys)}
    for defect in REF.DEFECTS:
        match = re.search(defect.sign, files[defect.file], re.MULTILINE)
        assert (match is not None) == (defect.id in slots), defect.id
        if match:
            start, end = where[slots[defect.id]][1]
            assert start <= REF.line_of(files[defect.file], match) <= end, defect.id
            fixed = defect.fixed(files[defect.file])
            assert not re.search(defect.sign, fixed, re.MULTILINE), defect.id
            if defect.file.endswith(".py"):
                compile(fixed, defect.file, "exec")
    for decoy in REF.DECOYS:
        present = re.search(decoy.sign, files[decoy.file], re.MULTILINE) is not None
        assert present == (decoy.id in slots), decoy.id
    for claim in REF.CLAIMS:
        present = re.search(claim.sign, files[claim.file], re.MULTILINE) is not None
        assert (present == claim.false_when_present) == (claim.id in drawn.false_claims)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_reference_review_scores_in_full_and_calls_out_the_false_claims(
    materials: dict[int, Path], reviewed: dict[int, Path], seed: int
) -> None:
    manifest = manifest_of(materials[seed])
    review = parse_review((reviewed[seed] / "review.md").read_text())
    got = score_review(review, manifest, review_params())
    assert got.score >= 0.95 and got.passed, got.summary
    assert all(d["found"] and d["credit"] == 1.0 for d in got.evidence["defects"])
    assert not any(d["flagged"] for d in got.evidence["decoys"])
    assert got.evidence["unmatched_count"] == 0
    by_claim, stray = call_outs(review, manifest.claims, 1)
    assert set(by_claim) == set(prepare_module("variant").draw(seed).false_claims)
    assert not stray


@pytest.mark.parametrize("seed", SEEDS)
def test_the_reference_commits_fixes_that_leave_no_defect_and_keep_the_decoys(
    materials: dict[int, Path], reviewed: dict[int, Path], seed: int
) -> None:
    workspace, manifest = reviewed[seed], manifest_of(materials[seed])
    assert signatures_left(workspace) == []
    log = git(workspace / "repo", "log", "--format=%s", f"{manifest.head_commit}..ai/change")
    assert len(log.splitlines()) == len(manifest.defects)
    assert git(workspace / "repo", "status", "--porcelain") == ""
    for decoy in REF.DECOYS:
        if decoy.id in {d.id for d in manifest.decoys}:
            assert re.search(decoy.sign, branch_file(workspace, decoy.file), re.MULTILINE)


def persona_run(materials: dict[int, Path], tmp_path: Path, persona: str) -> tuple[Path, Manifest]:
    material = materials[PERSONA_SEED]
    return run_reviewer(material, tmp_path, persona), manifest_of(material)


def test_careful_misses_minor_neither_reports_nor_fixes_the_minor_defect(
    materials: dict[int, Path], tmp_path: Path
) -> None:
    workspace, manifest = persona_run(materials, tmp_path, "careful-misses-minor")
    (minor,) = [d for d in manifest.defects if d.severity == "minor"]
    got = score_review(parse_review((workspace / "review.md").read_text()), manifest,
                       review_params())  # fmt: skip
    found = {d["id"]: d["found"] for d in got.evidence["defects"]}
    assert found == {d.id: d.id != minor.id for d in manifest.defects}
    total = sum(SEVERITY_WEIGHTS[d.severity] for d in manifest.defects)
    assert got.score == pytest.approx(f2(1.0, 1 - 1 / total), abs=1e-4)
    assert signatures_left(workspace) == [minor.id]


def test_fixes_no_review_fixes_everything_and_writes_no_review(
    materials: dict[int, Path], tmp_path: Path
) -> None:
    workspace, _ = persona_run(materials, tmp_path, "fixes-no-review")
    assert not (workspace / "review.md").exists()
    assert signatures_left(workspace) == []


def test_flag_everything_flags_every_changed_line_as_a_blocker_and_fixes_nothing(
    materials: dict[int, Path], tmp_path: Path
) -> None:
    workspace, manifest = persona_run(materials, tmp_path, "flags-every-line")
    review = parse_review((workspace / "review.md").read_text())
    added = git(workspace / "repo", "diff", "--numstat", "main", "ai/change")
    assert review.written == sum(int(line.split()[0]) for line in added.splitlines()) >= 300
    assert review.verdict == "request_changes"
    kinds = {(f.severity, f.category) for f in review.findings if isinstance(f, ReviewFinding)}
    assert {s for s, _ in kinds} == {"blocker"} and len({c for _, c in kinds}) == 9
    got = score_review(review, manifest, review_params())
    assert got.score == 0.0 and [f.kind for f in got.findings] == ["shotgun_review"]
    assert git(workspace / "repo", "rev-parse", "ai/change").strip() == manifest.head_commit
