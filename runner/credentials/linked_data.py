"""JSON-LD for credentials, offline: the contexts are vendored (runner/contexts/) and nothing
else is ever fetched; canonical N-Quads (RDFC-1.0, the URDNA2015 algorithm) for signing; and a
strict check, because a JSON-LD processor silently drops a term no context defines, so an
unsigned field added to a signed credential would otherwise pass unnoticed.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld

from prodproven.runner.errors import CredentialError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXT_FILES = {VC_V2: "credentials-v2.jsonld", OB_V3: "ob-v3p0-context-3.0.3.json"}
# VC 2.0 maps otherwise undefined terms here: defined by nobody but the issuer.
_ISSUER_DEPENDENT = "https://www.w3.org/ns/credentials/issuer-dependent#"


@cache
def _context(url: str) -> dict[str, Any]:
    contexts = resources.files("prodproven.runner.credentials.contexts")
    text = contexts.joinpath(CONTEXT_FILES[url]).read_text()
    document: dict[str, Any] = json.loads(text)
    return document


def load_document(url: str, options: Any = None) -> dict[str, Any]:
    """pyld's document loader: a vendored context, or CredentialError naming the URL."""
    if url not in CONTEXT_FILES:
        raise CredentialError(f"context {url} is not one of the vendored {sorted(CONTEXT_FILES)}")
    return {"contextUrl": None, "documentUrl": url, "document": _context(url)}


def _options() -> dict[str, Any]:
    return {"documentLoader": load_document}


def canonical(document: dict[str, Any]) -> str:
    """The document's canonical N-Quads. Raises CredentialError when it is not valid JSON-LD."""
    try:
        options = {**_options(), "algorithm": "URDNA2015", "format": "application/n-quads"}
        result: str = jsonld.normalize(document, options)
    except jsonld.JsonLdError as exc:
        raise CredentialError(f"not valid JSON-LD: {_reason(exc)}") from None
    return result


def undefined_terms(document: dict[str, Any]) -> list[str]:
    """Keys of ``document`` that its contexts do not define (dropped on expansion, or left to
    the issuer-dependent vocabulary). Raises CredentialError when it is not valid JSON-LD."""
    dropped: list[str] = []
    try:
        expanded = jsonld.expand(
            document, _options(), on_property_dropped=lambda key: dropped.append(str(key))
        )
    except jsonld.JsonLdError as exc:
        raise CredentialError(f"not valid JSON-LD: {_reason(exc)}") from None
    return sorted(set(dropped) | set(_issuer_dependent(expanded)))


def _issuer_dependent(node: Any) -> list[str]:
    if isinstance(node, list):
        return [term for item in node for term in _issuer_dependent(item)]
    if not isinstance(node, dict):
        return []
    found = [
        key.removeprefix(_ISSUER_DEPENDENT) for key in node if key.startswith(_ISSUER_DEPENDENT)
    ]
    for value in node.values():
        found += _issuer_dependent(value)
    return found


def _reason(exc: Exception) -> str:
    cause = getattr(exc, "cause", None)
    return f"{exc}" + (f" ({cause})" if cause else "")
