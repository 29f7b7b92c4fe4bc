"""The revocation status list (W3C Bitstring Status List): the bitstring round-trips through
its encoding, is at least 131,072 bits with index 0 the left-most bit, is published as a
credential signed by the issuer, and a verifier reading it finds a revoked credential revoked
and refuses a list it cannot trust."""

from __future__ import annotations

import base64
import gzip
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.credentials import data_integrity, status_list
from prodproven.runner.credentials.issuer_key import IssuerKey, issuer_key
from prodproven.runner.credentials.linked_data import undefined_terms
from prodproven.runner.errors import CredentialError
from prodproven.runner.runs.store import utcnow

BASE = "https://pp.example"
URL = f"{BASE}/credentials/status/revocation"


@pytest.fixture
def key(tmp_path: Path) -> IssuerKey:
    return issuer_key(tmp_path / "key")


def credential_at(index: int, key: IssuerKey) -> dict[str, Any]:
    return {"issuer": {"id": key.did}, "credentialStatus": status_list.entry(BASE, index)}


def test_set_bits_round_trip_and_every_other_bit_is_clear() -> None:
    bits = status_list.decode(status_list.encode([0, 7, 8, 131_071]))
    assert [i for i in range(len(bits) * 8) if status_list.is_set(bits, i)] == [0, 7, 8, 131_071]


def test_an_unset_bit_reads_clear_again() -> None:
    before = status_list.decode(status_list.encode([3, 5]))
    after = status_list.decode(status_list.encode([5]))
    assert status_list.is_set(before, 3) and not status_list.is_set(after, 3)
    assert status_list.is_set(after, 5)


def test_the_encoding_is_multibase_base64url_of_gzip_with_index_0_the_left_most_bit() -> None:
    encoded = status_list.encode([0])
    assert encoded.startswith("u") and "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) * 8 == 131_072 and raw[0] == 0x80 and not any(raw[1:])


def test_the_list_grows_in_whole_steps_to_hold_a_high_index() -> None:
    bits = status_list.decode(status_list.encode([131_072]))
    assert len(bits) * 8 == 2 * 131_072 and status_list.is_set(bits, 131_072)


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        ("z" + status_list.encode([])[1:], "prefix 'u'"),
        ("u!!!", "not base64url"),
        ("u" + base64.urlsafe_b64encode(b"plain").decode().rstrip("="), "not GZIP"),
        (
            "u" + base64.urlsafe_b64encode(gzip.compress(bytes(1024))).decode().rstrip("="),
            "fewer than the 131072 required",
        ),
    ],
    ids=["not-multibase", "not-base64url", "not-gzip", "too-short"],
)
def test_a_malformed_encoded_list_is_refused_saying_why(encoded: str, reason: str) -> None:
    with pytest.raises(CredentialError, match=reason):
        status_list.decode(encoded)


def test_the_published_list_is_a_signed_credential_with_only_defined_terms(key: IssuerKey) -> None:
    listed = status_list.list_credential(key, BASE, [2], utcnow())
    assert listed["id"] == URL
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["credentialSubject"]["type"] == "BitstringStatusList"
    assert listed["credentialSubject"]["statusPurpose"] == "revocation"
    assert undefined_terms(listed) == []
    assert data_integrity.verify(listed) == key.verification_method


def test_a_credential_whose_bit_is_set_is_revoked(key: IssuerKey) -> None:
    def published(url: str) -> dict[str, Any]:
        return status_list.list_credential(key, BASE, [1], utcnow())

    now = utcnow()
    revoked = status_list.check(credential_at(1, key), published, now)
    kept = status_list.check(credential_at(0, key), published, now)
    assert not revoked.ok and revoked.detail.startswith("revoked: bit 1 of the issuer's status")
    assert kept.ok and not kept.warning and kept.detail.startswith("not revoked: bit 0")


def test_a_list_signed_by_someone_else_is_not_trusted(key: IssuerKey, tmp_path: Path) -> None:
    impostor = issuer_key(tmp_path / "impostor")

    def forged(url: str) -> dict[str, Any]:
        return status_list.list_credential(impostor, BASE, [], utcnow())

    outcome = status_list.check(credential_at(0, key), forged, utcnow())
    assert not outcome.ok and f"not by the credential's issuer {key.did}" in outcome.detail


def test_a_list_whose_bits_were_changed_fails_its_signature(key: IssuerKey) -> None:
    def tampered(url: str) -> dict[str, Any]:
        listed = status_list.list_credential(key, BASE, [0], utcnow())
        listed["credentialSubject"]["encodedList"] = status_list.encode([])
        return listed

    outcome = status_list.check(credential_at(0, key), tampered, utcnow())
    assert not outcome.ok and "signature does not match" in outcome.detail


def test_a_list_for_another_url_is_refused(key: IssuerKey) -> None:
    def elsewhere(url: str) -> dict[str, Any]:
        return status_list.list_credential(key, "https://other.example", [], utcnow())

    outcome = status_list.check(credential_at(0, key), elsewhere, utcnow())
    assert not outcome.ok and "is not the URL it came from" in outcome.detail


def test_a_list_not_yet_valid_is_refused(key: IssuerKey) -> None:
    def early(url: str) -> dict[str, Any]:
        return status_list.list_credential(key, BASE, [], utcnow() + timedelta(days=1))

    outcome = status_list.check(credential_at(0, key), early, utcnow())
    assert not outcome.ok and "not valid yet" in outcome.detail


def test_a_credential_without_a_status_entry_is_a_warning(key: IssuerKey) -> None:
    def never(url: str) -> dict[str, Any]:
        raise AssertionError("nothing to fetch")

    outcome = status_list.check({"issuer": key.did}, never, utcnow())
    assert outcome.ok and outcome.warning


def test_fetching_an_address_where_nothing_listens_says_unreachable() -> None:
    outcome = status_list.check(
        {"credentialStatus": status_list.entry("http://127.0.0.1:9", 0)},
        lambda url: status_list.fetch_json(url, timeout=2.0),
        utcnow(),
    )
    assert outcome.ok and outcome.warning
    assert outcome.detail.startswith(
        "revocation not checked: http://127.0.0.1:9/credentials/status/revocation unreachable ("
    )
