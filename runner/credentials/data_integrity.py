"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C VC Data Integrity
EdDSA Cryptosuites v1.0): the proof options and the document without its proof are each
canonicalized (RDFC-1.0) and hashed with SHA-256; the Ed25519 signature of the two hashes,
proof options first, is the proof value (multibase base58btc).

The proof is written as a list of one (Open Badges 3.0's schema wants ``proof`` to be an array);
a single proof object, as credentials issued before carried, is read as well.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from prodproven.runner.credentials.issuer_key import (
    IssuerKey,
    base58btc,
    from_base58btc,
    public_key_of,
    verify_signature,
)
from prodproven.runner.credentials.linked_data import canonical
from prodproven.runner.errors import CredentialError

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"


def stamp(moment: datetime) -> str:
    """A UTC time as credentials write it: ``2026-11-22T08:25:18Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: Any) -> datetime | None:
    """A credential's time with its zone, or None when it is not one."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def issuer_id(document: dict[str, Any]) -> str | None:
    """The id of a credential's issuer (an object with an ``id``, or the id itself)."""
    issuer = document.get("issuer")
    if isinstance(issuer, dict):
        found = issuer.get("id")
        return found if isinstance(found, str) else None
    return issuer if isinstance(issuer, str) else None


def _hash_data(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config = {"@context": document["@context"], **options}
    return (
        hashlib.sha256(canonical(config).encode()).digest()
        + hashlib.sha256(canonical(unsigned).encode()).digest()
    )


def sign(document: dict[str, Any], key: IssuerKey, created: datetime) -> dict[str, Any]:
    """``document`` with an ``assertionMethod`` proof by ``key`` added."""
    options = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": stamp(created),
        "verificationMethod": key.verification_method,
        "proofPurpose": "assertionMethod",
    }
    signature = key.sign(_hash_data(document, options))
    return {**document, "proof": [{**options, "proofValue": "z" + base58btc(signature)}]}


def _the_proof(document: dict[str, Any]) -> dict[str, Any]:
    proof = document.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, dict):
        raise CredentialError("it has no proof (or more than one)")
    return proof


def verify(document: dict[str, Any]) -> str:
    """The verification method whose key made the document's proof. Raises CredentialError
    saying what is wrong: no proof, another cryptosuite, a bad key or a bad signature."""
    proof = _the_proof(document)
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise CredentialError(
            f"its proof is {proof.get('type')}/{proof.get('cryptosuite')}, "
            f"not {PROOF_TYPE}/{CRYPTOSUITE}"
        )
    if proof.get("proofPurpose") != "assertionMethod":
        raise CredentialError(f"its proof's purpose is {proof.get('proofPurpose')!r}")
    value = str(proof.get("proofValue", ""))
    if not value.startswith("z"):
        raise CredentialError("its proofValue is not base58btc multibase")
    method = str(proof.get("verificationMethod", ""))
    public = public_key_of(method)
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if not verify_signature(public, from_base58btc(value[1:]), _hash_data(document, options)):
        raise CredentialError("the signature does not match the credential's content")
    return method
