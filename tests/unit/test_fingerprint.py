"""Winnowing fingerprints (runner/similarity/fingerprint.py): names, literals and comments
never change them, a long enough shared run always shows and a short one never does, and a
notebook is its code cells."""

from __future__ import annotations

import json
import random

import pytest

from prodproven.runner.errors import ProdprovenError
from prodproven.runner.similarity.fingerprint import (
    BASE,
    MODULUS,
    K,
    W,
    compared,
    document,
    fingerprints,
    kgram_hashes,
    tokens,
    winnow,
)

CODE = '''import math


def area(radius, scale=2.0):
    """The area."""
    # squared first
    value = math.pi * radius ** 2
    return value * scale + len("units")


def ring(outer, inner):
    return area(outer) - area(inner) if outer > inner else 0.0
'''

RENAMED = '''import numpy


def surface(r, factor=3.5):
    """Something else entirely."""
    squared = numpy.pi * r ** 7
    return squared * factor + len("metres")  # with a comment


def annulus(big, small):
    return surface(big) - surface(small) if big > small else 1.0
'''


def hashes(text: str, path: str = "a.py") -> list[int]:
    return [m.hash for m in fingerprints(document(path, text.encode()))]


def test_names_and_literals_are_normalised_and_comments_dropped() -> None:
    shown = [t.text for t in tokens(document("a.py", b"total = price * 3  # cost\nf('x')\n"))]
    assert shown == ["N", "=", "N", "*", "0", "N", "(", "S", ")"]


def test_renaming_variables_changing_literals_and_comments_changes_no_fingerprint() -> None:
    assert hashes(CODE) and hashes(CODE) == hashes(RENAMED)


def test_a_different_structure_changes_the_fingerprints() -> None:
    changed = CODE.replace("return value * scale", "return (value, scale)")
    assert hashes(changed) != hashes(CODE)


def test_the_rolling_hash_is_the_hash_of_each_kgram() -> None:
    values = [random.Random(1).randrange(1 << 40) for _ in range(60)]

    def direct(gram: list[int]) -> int:
        h = 0
        for v in gram:
            h = (h * BASE + v) % MODULUS
        return h

    expected = [direct(values[i : i + K]) for i in range(len(values) - K + 1)]
    assert list(kgram_hashes(values)) == expected


def test_every_window_keeps_one_of_its_hashes_its_smallest() -> None:
    rng = random.Random(7)
    hashes = [rng.randrange(50) for _ in range(500)]  # many ties
    kept = set(winnow(hashes))
    for start in range(len(hashes) - W + 1):
        window = range(start, start + W)
        chosen = [i for i in window if i in kept]
        assert chosen, f"window at {start} keeps nothing"
        assert min(hashes[i] for i in chosen) == min(hashes[i] for i in window)


def _stream(rng: random.Random, n: int) -> str:
    """``n`` statements of distinct keyword-and-operator shapes (names would all be N)."""
    shapes = ["x = 1\n", "x += 1\n", "x -= 1\n", "x *= 1\n", "pass\n", "del x\n", "x[1]\n"]
    return "".join(rng.choice(shapes) for _ in range(n))


def test_a_shared_run_of_k_plus_w_minus_1_tokens_always_shares_a_fingerprint() -> None:
    rng = random.Random(3)
    for _ in range(20):
        shared = "x = y + z * (w - v) / u % t // s ** r\n" * 3  # 51 tokens
        a = _stream(rng, 40) + shared + _stream(rng, 40)
        b = _stream(rng, 40) + shared + _stream(rng, 40)
        assert set(hashes(a)) & set(hashes(b))


def test_a_shared_run_shorter_than_k_tokens_shares_nothing() -> None:
    short = "y = (a + b) * (c - d)\n"  # 13 tokens
    a = "while x:\n    x -= 1\n" * 20 + short
    b = "for x in y:\n    pass\n" * 20 + short
    assert not set(hashes(a)) & set(hashes(b))


def test_a_notebook_is_its_code_cells_each_under_its_number() -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "# Notes: copied from the web"},
            {"cell_type": "code", "source": ["import math\n", "r = 2"]},
            {"cell_type": "code", "source": CODE},
        ]
    }
    doc = document("work/explore.ipynb", json.dumps(notebook).encode())
    lines = doc.text.splitlines()
    assert lines[:4] == ["# In[1]", "import math", "r = 2", "# In[2]"]
    assert "Notes" not in doc.text
    marks = fingerprints(doc)
    assert set(hashes(CODE)) <= {m.hash for m in marks}
    second = lines.index("# In[2]") + 1
    from_code = [m for m in marks if m.hash in set(hashes(CODE))]
    assert all(m.first > second and m.path == "work/explore.ipynb" for m in from_code)


def test_a_notebook_that_is_not_notebook_json_is_an_error_naming_it() -> None:
    with pytest.raises(ProdprovenError, match="broken.ipynb is not a notebook"):
        document("broken.ipynb", b"{not json")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("solution.py", True),
        ("notebooks/eda.ipynb", True),
        ("deploy/run.SH", True),
        ("queries/q.sql", True),
        ("README.md", False),
        ("deploy.yaml", False),
        (".autopilot/run.sh", False),
        ("work/.ipynb_checkpoints/eda-checkpoint.ipynb", False),
    ],
)
def test_code_and_notebooks_are_compared_prose_config_and_tool_state_not(
    path: str, expected: bool
) -> None:
    assert compared(path) is expected
