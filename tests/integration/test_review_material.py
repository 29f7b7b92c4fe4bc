"""review-ai-change's generated material in its own image, as the candidate (uid 1000), for
three seeds: the visible tests pass on both branches; each seeded defect's hidden tests fail on
ai/change and pass once the catalogue's correct code replaces it; the feature tests pass on
ai/change and fail on main; the claims harness, run on both branches as generated, makes
false exactly the claims the generator drew as false; and every hidden test passes once the
reference reviewer (solution/.autopilot/) has committed its fixes on ai/change.

One container per seed runs everything (SCRIPT) and leaves JUnit files and measurements in
a mounted folder; the host only reads them. Not marked ``timing``: the harness compares the
CPU time of scoring, which other work on the machine does not stretch.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN

pytestmark = [pytest.mark.docker]

CHALLENGE = BUILTIN / "review-ai-change"
SEEDS = (3, 26, 124, 149)  # together they draw every defect and decoy of the catalogue
SCRIPT = r"""
set -u
G=/tmp/g X=/out/results
mkdir -p $X
python /prep/generate.py $G --seed $SEED || exit 3
R=$G/workspace/repo H=$G/hidden
t() { python -m pytest -q -p no:cacheprovider "$@" >/dev/null 2>&1; }
cd $R && git checkout -q main && t tests --junitxml=$X/visible-main.xml
git checkout -q ai/change && t tests --junitxml=$X/visible-head.xml
cd $H/tests && REPO=$R t . --junitxml=$X/hidden-head.xml
rm -rf /tmp/w && cp -r $G/workspace /tmp/w && cp -r /sol /tmp/w/.autopilot
python /tmp/w/.autopilot/reviewer.py /tmp/w >$X/reviewer.log 2>&1
rm -rf /tmp/f && git clone -q -b ai/change /tmp/w/repo /tmp/f
REPO=/tmp/f t . --junitxml=$X/hidden-reviewed.xml
for fix in /out/fixes/*/; do
  id=$(basename $fix)
  rm -rf /tmp/f && git clone -q -b ai/change $R /tmp/f && cp -r $fix. /tmp/f/
  REPO=/tmp/f t test_defects.py --junitxml=$X/fix-$id.xml
done
git -C $R checkout -q main && REPO=$R t test_feature.py --junitxml=$X/feature-main.xml
git clone -q -b main $H/repo.bundle /tmp/base && git clone -q -b ai/change $H/repo.bundle /tmp/head
mkdir $X/measure && python -I $H/claims/measure.py $H/claims $X/measure /tmp/base /tmp/head
cp $H/manifest.json $X/
"""


def prepare_module(name: str) -> ModuleType:
    prepare = str(CHALLENGE / "prepare")
    if prepare not in sys.path:
        sys.path.insert(0, prepare)
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def image(images: ImageBuilder) -> str:
    return images.recipe("challenge-review-ai-change", CHALLENGE / "image", parent=images.lab())


def outcomes(path: Path) -> dict[str, bool]:
    """Test name -> passed, from a JUnit file (a collection error counts as one failure)."""
    result: dict[str, bool] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        failed = any(case.find(tag) is not None for tag in ("failure", "error", "skipped"))
        result[case.get("name", "")] = not failed
    return result


def write_fixes(out: Path, seed: int) -> None:
    """For each drawn defect, its file as ai/change would have it with the correct code."""
    variant = prepare_module("variant")
    drawn = variant.draw(seed)
    for defect in drawn.defects:
        others = tuple(d for d in drawn.defects if d is not defect)
        files, _ = variant.change_files(dataclasses.replace(drawn, defects=others))
        path = prepare_module("catalogue").SLOTS[defect.slot].file
        target = out / "fixes" / defect.id / path
        target.parent.mkdir(parents=True)
        target.write_text(files[path])


def run_seed(docker_client: Any, image: str, out: Path, seed: int) -> Path:
    out.chmod(0o777)
    write_fixes(out, seed)
    for path in out.rglob("*"):
        path.chmod(0o777 if path.is_dir() else 0o644)
    docker_client.containers.run(
        image,
        ["bash", "-c", SCRIPT],
        user="1000",
        network_mode="none",
        environment={"SEED": str(seed)},
        volumes={
            str(out): {"bind": "/out", "mode": "rw"},
            str(CHALLENGE / "prepare"): {"bind": "/prep", "mode": "ro"},
            str(CHALLENGE / "solution" / ".autopilot"): {"bind": "/sol", "mode": "ro"},
        },
        remove=True,
    )
    return out / "results"


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_material_behaves_as_the_manifest_says(
    docker_client: Any, image: str, tmp_path: Path, seed: int
) -> None:
    results = run_seed(docker_client, image, tmp_path, seed)
    manifest = json.loads((results / "manifest.json").read_text())

    for branch in ("main", "head"):
        visible = outcomes(results / f"visible-{branch}.xml")
        assert visible and all(visible.values()), (branch, visible)

    hidden = outcomes(results / "hidden-head.xml")
    for defect in manifest["defects"]:
        names = [t.split("::")[1] for t in defect["tests"]]
        assert not any(hidden[name] for name in names), f"{defect['id']} is not caught"
        fixed = outcomes(results / f"fix-{defect['id']}.xml")
        assert all(fixed[name] for name in names), f"the fix of {defect['id']} does not pass"

    reviewed = outcomes(results / "hidden-reviewed.xml")
    assert reviewed and all(reviewed.values()), (reviewed, (results / "reviewer.log").read_text())

    features = [t.split("::")[1] for t in manifest["feature_tests"]]
    assert all(hidden[name] for name in features)
    on_main = outcomes(results / "feature-main.xml")
    assert not any(on_main.get(name, False) for name in features)

    base = json.loads((results / "measure" / "base.json").read_text())
    head = json.loads((results / "measure" / "head.json").read_text())
    false_claims = prepare_module("variant").draw(seed).false_claims
    ratio = head["p95_ms"] / base["p95_ms"]
    drop = base["auc"] - head["auc"]
    assert base["tests_passed"] and head["tests_passed"]
    if "latency" in false_claims:
        assert ratio >= 0.9, (base, head)
    else:
        assert ratio <= 0.7, (base, head)
    if "auc" in false_claims:
        assert drop >= 0.03, (base, head)
    else:
        assert abs(drop) <= 0.015, (base, head)
