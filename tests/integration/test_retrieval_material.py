"""serve-retrieval's generated material in its own image, as the candidate (uid 1000) with no
network, for two seeds: the relevance curve puts a plain hybrid of BM25 and the embedding model
well above BM25 alone on every variant (so the challenge measures retrieval, not luck of the
draw), the variants differ, and the workspace's embedder loads the model offline and gives
normalised 256-dimensional vectors.

One container per seed runs the generator and the embedder check and leaves their output in a
mounted folder; the host only reads it. Not marked ``timing``: nothing here is timed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prodproven.sandbox.images import ImageBuilder
from tests.conftest import BUILTIN

pytestmark = [pytest.mark.docker]

CHALLENGE = BUILTIN / "serve-retrieval"
SEEDS = (20261126, 7)
SCRIPT = r"""
set -eu
python /prep/generate.py /tmp/g --seed $SEED >/out/generate.log
cp /tmp/g/hidden/relevance/curve.json /out/
head -c 4096 /tmp/g/workspace/corpus/docs.jsonl >/out/head.jsonl
cd /tmp/g/workspace
python -c '
import json
from embedder import load_embedder
vectors = load_embedder().embed(["rotate expired certificates", "renew lapsed certs"])
print(json.dumps({"shape": list(vectors.shape), "dtype": str(vectors.dtype),
                  "norms": [float((v * v).sum()) for v in vectors]}))
' >/out/embedder.json
"""


@pytest.fixture(scope="module")
def image(images: ImageBuilder) -> str:
    return images.recipe("challenge-serve-retrieval", CHALLENGE / "image", parent=images.lab())


@pytest.fixture(scope="module")
def generated(
    docker_client: Any, image: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[int, Path]:
    outs = {}
    for seed in SEEDS:
        out = tmp_path_factory.mktemp(f"seed{seed}")
        out.chmod(0o777)
        docker_client.containers.run(
            image,
            ["bash", "-c", SCRIPT],
            user="1000",
            network_mode="none",
            environment={"SEED": str(seed)},
            volumes={
                str(out): {"bind": "/out", "mode": "rw"},
                str(CHALLENGE / "prepare"): {"bind": "/prep", "mode": "ro"},
            },
            remove=True,
        )
        outs[seed] = out
    return outs


@pytest.mark.parametrize("seed", SEEDS)
def test_the_hybrid_target_stands_well_above_the_lexical_baseline(
    generated: dict[int, Path], seed: int
) -> None:
    curve = json.loads((generated[seed] / "curve.json").read_text())
    baseline, target = curve["baseline"], curve["target"]
    assert 0.35 <= baseline["recall_at_10"] <= 0.7, curve
    assert target["recall_at_10"] >= 0.85, curve
    assert target["recall_at_10"] - baseline["recall_at_10"] >= 0.15, curve
    assert target["mrr_at_10"] - baseline["mrr_at_10"] >= 0.1, curve
    assert set(curve["how"]) == {"baseline", "target"}


def test_variants_draw_different_corpora(generated: dict[int, Path]) -> None:
    first, second = (generated[seed] / "head.jsonl" for seed in SEEDS)
    assert first.read_bytes() != second.read_bytes()


def test_the_embedder_loads_offline_and_normalises(generated: dict[int, Path]) -> None:
    found = json.loads((generated[SEEDS[0]] / "embedder.json").read_text())
    assert found["shape"] == [2, 256] and found["dtype"] == "float32"
    assert all(abs(norm - 1.0) < 1e-3 for norm in found["norms"])
