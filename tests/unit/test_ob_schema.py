"""The vendored Open Badges 3.0 schema: the 1EdTech file byte for byte (a changed copy is
refused), with its licence beside it, read without the network, naming each violation by its
JSON path."""

from __future__ import annotations

import hashlib
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from prodproven.runner.credentials import ob_schema
from prodproven.runner.errors import CredentialError

VALID: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ],
    "id": "urn:uuid:1",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "issuer": {"id": "did:key:z6Mk", "type": ["Profile"]},
    "validFrom": "2026-01-01T00:00:00Z",
    "credentialSubject": {
        "type": ["AchievementSubject"],
        "achievement": {
            "id": "https://pp.example/challenges/deploy-model/1.1.0",
            "type": ["Achievement"],
            "name": "Deploy a model",
            "description": "Deploy a model behind an SLO",
            "criteria": {"narrative": "Scored at least 70"},
        },
    },
    "proof": [{"type": "DataIntegrityProof"}],
}


def test_the_vendored_schema_is_the_pinned_file_with_its_licence_and_attribution() -> None:
    path = ob_schema.vendored_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ob_schema.SCHEMA_SHA256
    assert (path.parent / "LICENSE-1EdTech.md").is_file()
    assert ob_schema.SCHEMA_SHA256 in (path.parent / "README.md").read_text()


def test_a_conforming_credential_has_no_violations() -> None:
    assert ob_schema.violations(VALID) == []


def test_each_violation_is_named_by_its_json_path() -> None:
    broken = {**VALID, "proof": {"type": "DataIntegrityProof"}}
    del broken["validFrom"]
    found = [str(v) for v in ob_schema.violations(broken)]
    assert found == [
        "$: 'validFrom' is a required property",
        "$.proof: {'type': 'DataIntegrityProof'} is not of type 'array'",
    ]


def test_a_tampered_schema_file_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / ob_schema.SCHEMA_FILE
    text = ob_schema.vendored_path().read_text()
    loosened = text.replace('"required" :', '"ignored" :')  # would accept anything
    assert loosened != text
    copy.write_text(loosened)
    with pytest.raises(
        CredentialError, match=r"has sha256 [0-9a-f]{64}, not the pinned"
    ) as refused:
        ob_schema.violations(VALID, copy)
    assert str(copy) in str(refused.value)


def test_the_schema_is_read_and_applied_without_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*_: object) -> None:
        raise AssertionError("the schema check tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    copy = tmp_path / ob_schema.SCHEMA_FILE  # a fresh copy: nothing cached from other tests
    shutil.copyfile(ob_schema.vendored_path(), copy)
    assert ob_schema.violations(VALID, copy) == []
    assert ob_schema.violations({}, copy)
