"""``prodproven challenge new``: a firm's challenge starts as a working copy of a built-in one
(spec, brief, workspace, hidden material or its generator, solution, image recipe), renamed,
at version 0.1.0, with the spec's comments kept to say what each part is for."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from prodproven.runner.config import builtin_challenges
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.spec.challenge import SPEC_FILE, Catalog, Challenge, load_challenge
from prodproven.runner.spec.model import is_challenge_id

TEMPLATES = ("deploy-model", "fix-drift", "incident-response")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


def new_challenge(name: str, template: str, into: Path, catalog: Catalog) -> Challenge:
    """Create ``into/name`` from the built-in challenge ``template``. Raises ProdprovenError
    for a bad name, an unknown template or an existing folder."""
    if not is_challenge_id(name):
        raise ProdprovenError(
            f"challenge name {name!r} must be lowercase letters, digits and dashes, "
            "starting with a letter (it becomes the id and the folder name)"
        )
    if template not in TEMPLATES:
        raise ProdprovenError(f"no template {template!r}; choose from {', '.join(TEMPLATES)}")
    target = into / name
    if target.exists():
        raise ProdprovenError(f"{target} already exists; choose another name or folder")
    shutil.copytree(builtin_challenges() / template, target, ignore=IGNORED)
    spec = target / SPEC_FILE
    text = spec.read_text()
    text = re.sub(r"^id: .*$", f"id: {name}", text, count=1, flags=re.M)
    text = re.sub(r"^version: .*$", "version: 0.1.0", text, count=1, flags=re.M)
    text = re.sub(
        r"^title: .*$", f"title: {name}  # TODO: what the candidate sees", text, count=1, flags=re.M
    )
    banner = (
        f"# {name}: made by `prodproven challenge new` from {template}. Adapt the brief, the\n"
        "# workspace, the hidden material and the solution; keep `prodproven challenge validate`\n"
        "# passing. Format reference: docs/challenge-format.md\n"
    )
    spec.write_text(banner + text)
    return load_challenge(target, catalog)
