"""The installation's credential-signing key: Ed25519, made on first use and kept under the
data directory readable by its owner only, published as a ``did:key``.

A ``did:key`` is the public key itself (multicodec ``ed25519-pub`` 0xed01, base58btc
multibase), so a verifier needs nothing but the credential to find it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from prodproven.runner.errors import CredentialError

KEY_FILE = "issuer-ed25519.pem"
_ED25519_PUB = b"\xed\x01"
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, rest = divmod(number, 58)
        digits = _ALPHABET[rest] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


def from_base58btc(text: str) -> bytes:
    """Raises CredentialError on a character outside the alphabet."""
    number = 0
    for char in text:
        index = _ALPHABET.find(char)
        if index < 0:
            raise CredentialError(f"{char!r} is not a base58btc character")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def multikey(public: Ed25519PublicKey) -> str:
    """The public key as a Multikey ``publicKeyMultibase`` (``z6Mk...``)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58btc(_ED25519_PUB + raw)


def did_key(public: Ed25519PublicKey) -> str:
    return f"did:key:{multikey(public)}"


def verification_method(public: Ed25519PublicKey) -> str:
    """The key's id inside its own DID document: ``did:key:z6Mk...#z6Mk...``."""
    return f"{did_key(public)}#{multikey(public)}"


def public_key_of(method: str) -> Ed25519PublicKey:
    """The Ed25519 key a ``did:key`` verification method names. Raises CredentialError when it
    is not a did:key of an Ed25519 key, or its fragment names another key."""
    did, _, fragment = method.partition("#")
    if not did.startswith("did:key:z"):
        raise CredentialError(f"verification method {method!r} is not an Ed25519 did:key")
    encoded = did.removeprefix("did:key:")
    if fragment and fragment != encoded:
        raise CredentialError(f"verification method {method!r} names another key than its DID")
    raw = from_base58btc(encoded[1:])
    if not raw.startswith(_ED25519_PUB) or len(raw) != 34:
        raise CredentialError(f"verification method {method!r} is not an Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def verify_signature(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class IssuerKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def did(self) -> str:
        return did_key(self.public)

    @property
    def verification_method(self) -> str:
        return verification_method(self.public)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def issuer_key(data_dir: Path) -> IssuerKey:
    """The installation's key, made (mode 0600) on first use. Raises CredentialError when the
    file is readable by others or is not an Ed25519 private key."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise CredentialError(
            f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
        )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CredentialError(f"{path} does not hold an Ed25519 private key")
    return IssuerKey(key)
