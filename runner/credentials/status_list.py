"""Revocation that a verifier can check without this installation's database: a W3C Bitstring
Status List (``BitstringStatusListCredential``, status purpose ``revocation``).

Each issued credential gets the next index of one list (kept in the ``credential_status``
table) and a ``credentialStatus`` entry naming the list's URL and its index. The list itself is
a credential signed with the installation's key, served by the web app at
``<public URL>/credentials/status/revocation``: its ``encodedList`` is the multibase
base64url (prefix ``u``, no padding) of the GZIP-compressed bitstring, at least 131,072 bits
(16 KiB), index 0 being the left-most (most significant) bit of the first byte. A set bit is a
revoked credential.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import Integer, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from prodproven.runner.credentials import data_integrity
from prodproven.runner.credentials.data_integrity import issuer_id, parse_stamp, stamp
from prodproven.runner.credentials.issuer_key import IssuerKey
from prodproven.runner.credentials.linked_data import VC_V2, undefined_terms
from prodproven.runner.errors import CredentialError, StatusListUnreachable
from prodproven.runner.runs.store import Base, Store
from prodproven.sandbox.untrusted import UntrustedInput, load_json

STATUS_PATH = "/credentials/status/revocation"
PURPOSE = "revocation"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_TYPE = "BitstringStatusListCredential"
SUBJECT_TYPE = "BitstringStatusList"
MIN_BITS = 131_072
"""The specification's minimum length of a bitstring (16 KiB), for group privacy."""
MAX_BYTES = 16 * 1024 * 1024
"""Longest bitstring a verifier inflates (a small GZIP can inflate to gigabytes)."""
MAX_RESPONSE = 1024 * 1024
FETCH_TIMEOUT = 5.0
CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of the verifier's clock a list's ``validFrom`` may be (the list is often signed
while it is being fetched, on another machine's clock)."""
_ALLOCATION_TRIES = 5

Fetch = Callable[[str], Any]
"""Gets a status list credential's JSON by URL; raises StatusListUnreachable when it cannot."""


class StatusEntryRow(Base):
    """The status list index of each credential issued with one."""

    __tablename__ = "credential_status"
    credential_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    list_index: Mapped[int] = mapped_column(Integer, unique=True)


@dataclass(frozen=True)
class Outcome:
    """What the status list says of a credential. ``warning``: it could not say (not fetched,
    or no entry), which does not make the credential invalid."""

    ok: bool
    detail: str
    warning: bool = False


def list_url(base_url: str) -> str:
    return base_url.rstrip("/") + STATUS_PATH


def entry(base_url: str, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` of the credential at ``index`` of the list."""
    url = list_url(base_url)
    return {
        "id": f"{url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": PURPOSE,
        "statusListIndex": str(index),
        "statusListCredential": url,
    }


def allocate(store: Store, credential_id: str) -> int:
    """The next free index, recorded for ``credential_id`` (0, 1, 2, ...). Raises
    CredentialError when concurrent issues keep taking the same index."""
    for _ in range(_ALLOCATION_TRIES):
        try:
            with store.session() as s:
                last = s.scalar(select(func.max(StatusEntryRow.list_index)))
                index = 0 if last is None else last + 1
                s.add(StatusEntryRow(credential_id=credential_id, list_index=index))
            return index
        except IntegrityError:
            continue
    raise CredentialError(
        f"no status list index could be recorded for {credential_id} after "
        f"{_ALLOCATION_TRIES} tries (other credentials were being issued at the same time)"
    )


def encode(indices: Iterable[int], length: int = MIN_BITS) -> str:
    """The ``encodedList`` of a bitstring with ``indices`` set: at least ``length`` bits, grown
    in steps of MIN_BITS to hold the highest index."""
    chosen = sorted(set(indices))
    if chosen and chosen[0] < 0:
        raise CredentialError(f"status list index {chosen[0]} is negative")
    bits = max(length, MIN_BITS)
    if chosen and chosen[-1] >= bits:
        bits = (chosen[-1] // MIN_BITS + 1) * MIN_BITS
    bitstring = bytearray(bits // 8)
    for index in chosen:
        bitstring[index // 8] |= 0x80 >> (index % 8)
    compressed = gzip.compress(bytes(bitstring), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode().rstrip("=")


def decode(encoded: Any) -> bytes:
    """The bitstring an ``encodedList`` holds. Raises CredentialError saying what is wrong:
    not multibase base64url, not GZIP, too long, or shorter than the specification allows."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise CredentialError("its encodedList is not multibase base64url (prefix 'u')")
    text = encoded[1:]
    try:
        compressed = base64.b64decode(text + "=" * (-len(text) % 4), b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CredentialError(f"its encodedList is not base64url: {exc}") from None
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        bitstring = inflater.decompress(compressed, MAX_BYTES + 1)
    except zlib.error as exc:
        raise CredentialError(f"its encodedList is not GZIP-compressed: {exc}") from None
    if len(bitstring) > MAX_BYTES:
        raise CredentialError(f"its bitstring is longer than {MAX_BYTES} bytes")
    if not inflater.eof:
        raise CredentialError("its encodedList is a truncated GZIP stream")
    if len(bitstring) * 8 < MIN_BITS:
        raise CredentialError(
            f"its bitstring has {len(bitstring) * 8} bits, fewer than the {MIN_BITS} required"
        )
    return bitstring


def is_set(bitstring: bytes, index: int) -> bool:
    """Whether bit ``index`` (0 = the left-most bit) is set. Raises CredentialError outside."""
    if not 0 <= index < len(bitstring) * 8:
        raise CredentialError(f"index {index} is outside the list's {len(bitstring) * 8} bits")
    return bool(bitstring[index // 8] & (0x80 >> (index % 8)))


def list_credential(
    key: IssuerKey, base_url: str, revoked: Iterable[int], now: datetime
) -> dict[str, Any]:
    """The signed status list credential with the ``revoked`` indices set."""
    url = list_url(base_url)
    unsigned = {
        "@context": [VC_V2],
        "id": url,
        "type": ["VerifiableCredential", LIST_TYPE],
        "issuer": key.did,
        "validFrom": stamp(now),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": SUBJECT_TYPE,
            "statusPurpose": PURPOSE,
            "encodedList": encode(revoked),
        },
    }
    return data_integrity.sign(unsigned, key, now)


class Getter(Protocol):
    """An HTTP client (``httpx.Client``, or a test client serving the app in-process)."""

    def get(self, url: str, *, headers: dict[str, str], follow_redirects: bool) -> Any: ...


def fetch_json(url: str, timeout: float = FETCH_TIMEOUT, client: Getter | None = None) -> Any:
    """The JSON at ``url`` (no redirects followed), through ``client`` if given (with its own
    timeout). Raises StatusListUnreachable when nothing answers or the answer is not 200,
    CredentialError when the answer is not small JSON."""
    headers = {"Accept": "application/vc+ld+json, application/json"}
    try:
        if client is not None:
            response = client.get(url, headers=headers, follow_redirects=False)
        else:
            with httpx.Client(timeout=timeout, follow_redirects=False) as own:
                response = own.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise StatusListUnreachable(url, str(exc) or type(exc).__name__) from None
    if response.status_code != 200:
        raise StatusListUnreachable(url, f"HTTP {response.status_code}")
    if len(response.content) > MAX_RESPONSE:
        raise CredentialError(f"{url} answered more than {MAX_RESPONSE} bytes")
    try:
        return load_json(response.content, what=url, max_bytes=MAX_RESPONSE)
    except UntrustedInput as exc:
        raise CredentialError(f"{url} did not answer JSON: {exc}") from None


def _types(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check(document: dict[str, Any], fetch: Fetch, now: datetime) -> Outcome:
    """Whether the status list named in ``document``'s ``credentialStatus`` says it is
    revoked. Never raises: an unreachable list is a warning, a bad or revoking one a failure."""
    status = document.get("credentialStatus")
    entries = [
        e
        for e in (status if isinstance(status, list) else [status])
        if isinstance(e, dict) and ENTRY_TYPE in _types(e.get("type"))
        if PURPOSE in _types(e.get("statusPurpose"))
    ]
    if not entries:
        return Outcome(True, "no revocation status list: only the issuer's register knows", True)
    outcomes = [_check_entry(e, issuer_id(document), fetch, now) for e in entries]
    failed = [o for o in outcomes if not o.ok]
    unsure = [o for o in outcomes if o.warning]
    return (failed or unsure or outcomes)[0]


def _check_entry(entry: dict[str, Any], issuer: str | None, fetch: Fetch, now: datetime) -> Outcome:
    url, position = entry.get("statusListCredential"), str(entry.get("statusListIndex"))
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return Outcome(False, f"its statusListCredential {url!r} is not an http(s) URL")
    if not position.isdigit():
        return Outcome(False, f"its statusListIndex {position!r} is not a non-negative integer")
    index = int(position)
    try:
        listed = fetch(url)
    except StatusListUnreachable as exc:
        return Outcome(True, str(exc), True)
    except CredentialError as exc:
        return Outcome(False, f"status list {url}: {exc}")
    try:
        revoked = is_set(verified_bits(listed, url, issuer, now), index)
    except CredentialError as exc:
        return Outcome(False, f"status list {url}: {exc}")
    if revoked:
        return Outcome(False, f"revoked: bit {index} of the issuer's status list {url} is set")
    return Outcome(True, f"not revoked: bit {index} of the issuer's status list {url} is clear")


def verified_bits(listed: Any, url: str, issuer: str | None, now: datetime) -> bytes:
    """The bitstring of a fetched status list credential, once it is shown to be the revocation
    list at ``url``, signed by ``issuer`` and valid at ``now``. Raises CredentialError."""
    if not isinstance(listed, dict):
        raise CredentialError("it is not a JSON object")
    if LIST_TYPE not in _types(listed.get("type")):
        raise CredentialError(f"its type {listed.get('type')!r} lacks {LIST_TYPE}")
    if listed.get("id") != url:
        raise CredentialError(f"its id {listed.get('id')!r} is not the URL it came from")
    extra = undefined_terms(listed)
    if extra:
        raise CredentialError(f"fields no context defines: {', '.join(extra)}")
    signer = data_integrity.verify(listed).partition("#")[0]
    if signer != issuer or issuer_id(listed) != issuer:
        raise CredentialError(
            f"it is issued by {issuer_id(listed)} and signed by {signer}, "
            f"not by the credential's issuer {issuer}"
        )
    start, end = parse_stamp(listed.get("validFrom", stamp(now))), listed.get("validUntil")
    if start is None or start > now + CLOCK_SKEW:
        raise CredentialError(f"it is not valid yet (validFrom {listed.get('validFrom')!r})")
    if end is not None and ((until := parse_stamp(end)) is None or until < now):
        raise CredentialError(f"it expired (validUntil {end!r})")
    subject = listed.get("credentialSubject")
    if not isinstance(subject, dict) or SUBJECT_TYPE not in _types(subject.get("type")):
        raise CredentialError(f"its credentialSubject is not a {SUBJECT_TYPE}")
    if PURPOSE not in _types(subject.get("statusPurpose")):
        raise CredentialError(f"its statusPurpose is {subject.get('statusPurpose')!r}")
    return decode(subject.get("encodedList"))
