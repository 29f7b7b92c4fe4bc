"""Hostile specs and packs, generated: whatever a challenge.yaml or a pack manifest holds (random
YAML-ish structures, ids and paths that try to lead out, huge, tiny and non-finite numbers),
loading and installing either succeed or raise one ProdprovenError of under 1 KB, and nothing
is written outside the folder it belongs in.

Bounded: a fixed number of examples each, no deadline (the machine is shared), well under 30 s.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodproven.runner import plugins
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.spec.challenge import load_challenge
from prodproven.runner.spec.packs import install, pack
from tests.conftest import BUILTIN
from tests.unit.test_packs import rewrite

CATALOG = plugins.catalog()
SPEC = yaml.safe_load((BUILTIN / "deploy-model" / "challenge.yaml").read_text())
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HOSTILE = [
    "",
    ".",
    "..",
    "../../victim",
    "./../../victim",
    "/etc/passwd",
    "/",
    "a/../../b",
    "\x00",
    "deploy-model\n",
    "./deploy-model",
    "Deploy-Model",
    "a" * 300,
    "\\..\\..\\victim",
    "~/victim",
    "🙂",
    "{{7*7}}",
    "<script>",
]
hostile_strings = st.sampled_from(HOSTILE) | st.text(max_size=40)
numbers = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0])
    | st.integers(min_value=-(10**40), max_value=10**40)
)
scalars = st.none() | st.booleans() | numbers | hostile_strings
yamlish = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from([*SPEC, "x"]) | st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """deploy-model's spec with a few fields, top-level or one level down, replaced."""
    spec: dict[str, Any] = json.loads(json.dumps(SPEC))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*SPEC, "extra"]))
        value = draw(yamlish)
        inside = spec.get(key)
        if isinstance(inside, dict) and inside and draw(st.booleans()):
            inside[draw(st.sampled_from(sorted(inside)))] = value
        elif isinstance(inside, list) and inside and isinstance(inside[0], dict) and inside[0]:
            inside[0][draw(st.sampled_from(sorted(inside[0])))] = value
        else:
            spec[key] = value
    paths = {"image": "recipe", "prepare": "script"}
    if draw(st.booleans()):
        part = draw(st.sampled_from(sorted(paths)))
        spec[part] = {paths[part]: draw(hostile_strings)}
    return spec


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy-model whose challenge.yaml each example rewrites."""
    root = tmp_path_factory.mktemp("fuzz") / "deploy-model"
    shutil.copytree(BUILTIN / "deploy-model", root)
    return root


def loads_or_refuses(load: Callable[[], object]) -> None:
    try:
        load()
    except ProdprovenError as exc:
        assert len(str(exc)) < 1024, str(exc)[:2000]


@FUZZ
@given(spec=specs())
def test_any_spec_loads_or_is_one_short_prodproven_error(
    folder: Path, spec: dict[str, Any]
) -> None:
    (folder / "challenge.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    loads_or_refuses(lambda: load_challenge(folder, CATALOG))


@FUZZ
@given(text=st.text(max_size=400) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_challenge_yaml_text_loads_or_is_one_short_prodproven_error(
    folder: Path, text: str
) -> None:
    (folder / "challenge.yaml").write_text(text, errors="surrogateescape")
    loads_or_refuses(lambda: load_challenge(folder, CATALOG))


# packs ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid pack of deploy-model under the id acme-model."""
    root = tmp_path_factory.mktemp("source") / "acme-model"
    shutil.copytree(BUILTIN / "deploy-model", root, ignore=shutil.ignore_patterns("__pycache__"))
    spec = {**SPEC, "id": "acme-model"}
    (root / "challenge.yaml").write_text(yaml.safe_dump(spec))
    return pack(load_challenge(root, CATALOG), root.parent / "acme.ppc.tar.gz").path


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """Changes to a manifest: hostile ids, versions, formats, file entries."""
    changes: dict[str, Any] = {}
    for key in draw(st.sets(st.sampled_from(["id", "version", "format", "title", "files"]))):
        changes[key] = draw(hostile_strings | yamlish)
    if draw(st.booleans()):
        changes["entry"] = (draw(hostile_strings), draw(yamlish))
    return changes


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@settings(FUZZ, max_examples=25)
@given(changes=manifests())
def test_any_manifest_installs_or_is_one_short_error_and_writes_nowhere_else(
    pack_file: Path, changes: dict[str, Any]
) -> None:
    def change(name: str, data: bytes) -> list[tuple[str, bytes]]:
        if name != "manifest.json":
            return [(name, data)]
        manifest = json.loads(data)
        entry = changes.pop("entry", None)
        manifest.update(changes)
        if entry is not None and isinstance(manifest.get("files"), dict):
            manifest["files"][entry[0]] = entry[1]
        return [(name, json.dumps(manifest).encode())]

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hostile = root / "hostile.ppc.tar.gz"
        shutil.copy(pack_file, hostile)
        rewrite(hostile, change)
        (root / "victim").mkdir()
        (root / "victim" / "keep.txt").write_text("mine")
        into = root / "data" / "installed"
        before = tree(root)
        loads_or_refuses(lambda: install(hostile, into, {"deploy-model": BUILTIN}, CATALOG))
        after = {name: data for name, data in tree(root).items() if not name.startswith("data/")}
        assert after == before
        if into.parent.exists():
            assert [p.name for p in into.parent.iterdir()] == ["installed"]
            assert all(p.name == "acme-model" for p in into.iterdir())
