"""The frameworks facet (runner/portal/frameworks.py): an assessor reads their firm's
frameworks and role profiles with ``read`` and changes them with ``review``, for their own
firm only; the operator acts for the firm named, by default the installation's; a file applies
as a framework or a role profile, refused naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from prodproven.runner.errors import ScopeDenied
from prodproven.runner.portal.access import Actor
from prodproven.runner.portal.core import Portal
from prodproven.runner.spec.framework import FrameworkError, RoleProfile, RoleProfileNotFound
from tests.unit.portalsupport import ADA, BOB, CLI
from tests.unit.test_framework import framework_doc

SRE = RoleProfile(name="SRE", requires={"deployment": 3, "incident_response": 2})


def test_an_assessor_sees_only_their_firms_role_profiles(portal: Portal) -> None:
    portal.frameworks.save_profile(ADA, SRE)
    assert portal.frameworks.profiles(ADA) == [SRE]
    assert portal.frameworks.profiles(BOB) == []
    with pytest.raises(RoleProfileNotFound):
        portal.frameworks.profile(BOB, "SRE")
    with pytest.raises(RoleProfileNotFound):
        portal.frameworks.delete_profile(BOB, "SRE")
    assert portal.frameworks.profile(ADA, "SRE") == SRE


def test_an_assessor_cannot_name_another_firm(portal: Portal) -> None:
    with pytest.raises(ScopeDenied, match="their own firm only"):
        portal.frameworks.save_profile(BOB, SRE, firm="firm-a")
    assert portal.frameworks.profiles(CLI, firm="firm-a") == []


def test_reading_needs_read_and_changing_needs_review(portal: Portal) -> None:
    reader = Actor("ada@a.example", "firm-a", ("read",))
    with pytest.raises(ScopeDenied, match="'review'"):
        portal.frameworks.save_profile(reader, SRE)
    portal.frameworks.save_profile(ADA, SRE)
    with pytest.raises(ScopeDenied, match="'review'"):
        portal.frameworks.delete_profile(reader, "SRE")
    assert portal.frameworks.profiles(reader) == [SRE]
    inviter = Actor("ada@a.example", "firm-a", ("invite",))
    with pytest.raises(ScopeDenied, match="'read'"):
        portal.frameworks.frameworks(inviter)


def test_the_operator_acts_for_the_installations_firm_unless_told(portal: Portal) -> None:
    portal.frameworks.save_profile(CLI, SRE)
    assert portal.frameworks.profiles(CLI, firm=portal.settings.firm) == [SRE]
    portal.frameworks.save_profile(CLI, SRE, firm="firm-a")
    assert portal.frameworks.profiles(ADA) == [SRE]


def test_a_file_applies_as_a_framework_or_a_role_profile(portal: Portal, tmp_path: Path) -> None:
    framework = tmp_path / "acme.yaml"
    framework.write_text(yaml.safe_dump(framework_doc()))
    profile = tmp_path / "data.yaml"
    profile.write_text(yaml.safe_dump({"name": "Data", "framework": "acme",
                                       "requires": {"data_quality": 4}}))  # fmt: skip
    assert portal.frameworks.apply(ADA, framework).name == "Acme MLOps"
    assert portal.frameworks.apply(ADA, profile).name == "Data"
    assert [f.id for f in portal.frameworks.frameworks(ADA)] == ["builtin", "acme"]
    assert [f.id for f in portal.frameworks.frameworks(BOB)] == ["builtin"]
    with pytest.raises(FrameworkError, match=rf"^{profile}: .*no framework 'acme'"):
        portal.frameworks.apply(BOB, profile)
