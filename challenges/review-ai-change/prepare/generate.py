"""Generate review-ai-change's repository, pull request and hidden material from a seed.

Runs inside the challenge image (no network; standard library and git only) as
`python generate.py OUT [--seed N]` and writes:

    OUT/workspace/repo/            a git repository: main (the team's churn service and training
                                   code) and ai/change (the assistant's commits: batch scoring,
                                   a feature cache, faster retraining), ai/change checked out
    OUT/workspace/PR.md            the assistant's description, with its checkable claims
    OUT/hidden/manifest.json       the seeded defects, decoys and claims with their lines
    OUT/hidden/tests/              hidden pytest files: the drawn defects' tests, feature tests
    OUT/hidden/repo.bundle         both branches as generated, for the claims grader
    OUT/hidden/claims/             measure.py and its data (train.csv, holdout.csv,
                                   requests.json)

The seed draws five defects from the catalogue (distinct categories, every severity), two or
three decoys, which of PR.md's latency and AUC claims are false, and the data. The same seed
gives the same files and the same commit ids.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import documents  # noqa: E402
import history  # noqa: E402
import variant  # noqa: E402
import world  # noqa: E402
from catalogue import SLOTS  # noqa: E402

DEFAULT_SEED = 20261126
CLAIMS_HARNESS = Path(__file__).resolve().parent / "claims" / "measure.py"


def generate(out: Path, seed: int) -> dict[str, object]:
    """Write everything under ``out`` (which must not hold a previous output); returns the
    manifest."""
    drawn = variant.draw(seed)
    change, where = variant.change_files(drawn)
    for slot, (path, _) in where.items():
        if SLOTS[slot].file != path:
            raise ValueError(f"slot {slot} is in {path}, the catalogue says {SLOTS[slot].file}")
    main: dict[str, str | bytes] = dict(variant.tree("main"))
    main["models/v3/model.pkl"] = documents.production_model(seed)
    workspace, hidden = out / "workspace", out / "hidden"
    hidden.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="review-gen-") as scratch:
        shas = history.build(workspace / "repo", main, change, Path(scratch))
        history.bundle(workspace / "repo", hidden / "repo.bundle", Path(scratch))
    text, claim_lines = documents.pull_request(seed)
    (workspace / "PR.md").write_text(text)
    tests, feature_tests = documents.hidden_tests(drawn)
    history.write(hidden / "tests", dict(tests))
    history.write(hidden / "claims", dict(world.claims_data(seed)))
    shutil.copyfile(CLAIMS_HARNESS, hidden / "claims" / "measure.py")
    manifest = documents.manifest(drawn, shas, where, claim_lines, feature_tests)
    (hidden / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    generate(args.out, args.seed)


if __name__ == "__main__":
    main()
