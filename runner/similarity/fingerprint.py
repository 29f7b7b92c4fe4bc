"""Winnowing fingerprints of source code (Schleimer, Wilkerson and Aiken, "Winnowing: local
algorithms for document fingerprinting", SIGMOD 2003), over Pygments tokens.

A document is cut into tokens; names become ``N``, strings ``S`` and numbers ``0``, comments
and whitespace go, so renaming variables or rewording comments hides nothing. Each run of
``K`` consecutive tokens (a k-gram) gets a Karp-Rabin rolling hash, and in every window of
``W`` consecutive hashes the smallest is kept (the rightmost on ties), with the span of lines
its k-gram covers. Guarantee: any run of at least ``K + W - 1`` tokens shared by two documents
shares at least one fingerprint; nothing shorter than ``K`` tokens ever does.

Notebooks are their code cells' sources joined, each cell under a ``# In[n]`` line, so the
lines of a match point into one cell.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from pygments.lexers import get_lexer_by_name  # type: ignore[import-untyped]
from pygments.token import Comment, Name, Number, String, Text  # type: ignore[import-untyped]

from prodproven.runner.errors import ProdprovenError

K = 25
"""Tokens per k-gram: shorter shared runs (an import line, a loop header) never count."""
W = 4
"""Hashes per window: a shared run of K + W - 1 = 28 tokens is always caught."""
VERSION = f"winnow-k{K}-w{W}-1"
"""Changes when fingerprints computed before would no longer compare (cached ones are redone)."""
LEXERS = {
    ".py": "python",
    ".ipynb": "python",
    ".sh": "bash",
    ".bash": "bash",
    ".sql": "sql",
    ".r": "r",
    ".js": "javascript",
    ".ts": "typescript",
    ".go": "go",
    ".java": "java",
    ".scala": "scala",
}
"""The files compared, by suffix (lower case): code and notebooks. Prose (.md, .txt) and
configuration (.yaml, .json, .toml, Dockerfile) are left out: honest answers to one task share
much of them (the same headings, the same deploy keys) and a copied one shows in its code."""
MAX_FILE_BYTES = 1 << 20
"""Larger files are data, not code someone wrote: left out."""
MODULUS = (1 << 61) - 1
BASE = 1_000_003


@dataclass(frozen=True)
class Document:
    """One file as compared: its path in the workspace, its text (a notebook's: its code cells
    joined) and its lexer's name."""

    path: str
    text: str
    lexer: str


@dataclass(frozen=True)
class Mark:
    """One fingerprint: the hash of a k-gram and the lines (1-based, inclusive) it covers in
    the file ``path``."""

    hash: int
    path: str
    first: int
    last: int


def compared(path: str) -> bool:
    """Whether the workspace file ``path`` is compared: a code or notebook suffix, and not in a
    dot folder (tool state such as ``.ipynb_checkpoints`` or ``.autopilot``)."""
    parts = PurePosixPath(path).parts
    if any(part.startswith(".") for part in parts[:-1]):
        return False
    return PurePosixPath(path).suffix.lower() in LEXERS


def document(path: str, data: bytes) -> Document:
    """The document of the workspace file ``path`` holding ``data`` (undecodable bytes are
    replaced). Raises ProdprovenError for a ``.ipynb`` that is not notebook JSON."""
    text = data.decode("utf-8", errors="replace")
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".ipynb":
        text = notebook_code(path, text)
    return Document(path, text, LEXERS[suffix])


def notebook_code(path: str, text: str) -> str:
    """The code cells of the notebook ``text`` joined, each under a ``# In[n]`` line (n counts
    code cells from 1). Raises ProdprovenError when it is not notebook JSON."""
    try:
        cells = json.loads(text).get("cells", [])
        sources = [
            c["source"] if isinstance(c["source"], str) else "".join(c["source"])
            for c in cells
            if isinstance(c, dict) and c.get("cell_type") == "code"
        ]
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        raise ProdprovenError(f"{path} is not a notebook: {exc}") from None
    return "".join(f"# In[{n}]\n{source.rstrip()}\n" for n, source in enumerate(sources, start=1))


@dataclass(frozen=True)
class Token:
    text: str
    line: int


def tokens(doc: Document) -> list[Token]:
    """The document's tokens, normalised: names ``N``, strings ``S`` (one per literal, however
    the lexer splits it), numbers ``0``; comments and whitespace dropped; every other token
    (keywords, operators) as written."""
    lexer = get_lexer_by_name(doc.lexer, stripnl=False, ensurenl=True)
    found: list[Token] = []
    line = 1
    for kind, value in lexer.get_tokens(doc.text):
        shown = _normal(kind, value)
        if shown and not (shown == "S" and found and found[-1].text == "S"):
            found.append(Token(shown, line))  # a string's quotes and parts are one S
        line += value.count("\n")
    return found


def _normal(kind: object, value: str) -> str:
    if kind in Comment or kind in Text or not value.strip():
        return ""
    if kind in Name:
        return "N"
    if kind in String:
        return "S"
    if kind in Number:
        return "0"
    return value.strip()


def _token_value(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=7).digest(), "big")


def kgram_hashes(values: list[int], k: int = K) -> Iterator[int]:
    """The Karp-Rabin hash of each k-gram of ``values``, rolled along: one multiply and add per
    token instead of ``k``."""
    if len(values) < k:
        return
    top = pow(BASE, k - 1, MODULUS)
    h = 0
    for value in values[:k]:
        h = (h * BASE + value) % MODULUS
    yield h
    for old, new in zip(values, values[k:], strict=False):
        h = ((h - old * top) * BASE + new) % MODULUS
        yield h


def winnow(hashes: list[int], w: int = W) -> list[int]:
    """The positions winnowing keeps: in each window of ``w`` hashes its smallest, the
    rightmost on ties, each position once (every hash when there are fewer than ``w``)."""
    if len(hashes) < w:
        return list(range(len(hashes)))
    kept: list[int] = []
    for start in range(len(hashes) - w + 1):
        window = hashes[start : start + w]
        low = min(window)
        pick = start + w - 1 - window[::-1].index(low)
        if not kept or kept[-1] != pick:
            kept.append(pick)
    return kept


def fingerprints(doc: Document, k: int = K, w: int = W) -> list[Mark]:
    """The document's fingerprints, in order."""
    found = tokens(doc)
    hashes = list(kgram_hashes([_token_value(t.text) for t in found], k))
    return [
        Mark(hashes[i], doc.path, found[i].line, found[i + k - 1].line) for i in winnow(hashes, w)
    ]


def of_documents(docs: Iterable[Document]) -> list[Mark]:
    """The fingerprints of every document."""
    return [mark for doc in docs for mark in fingerprints(doc)]
