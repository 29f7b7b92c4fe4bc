"""Each firm's frameworks and role profiles in the store (runner/people/frameworks.py): a firm
sees the built-in framework and its own, never another firm's; the built-in one cannot be
changed; a framework a role profile relies on keeps what the profile requires; every change is
in the audit log."""

from __future__ import annotations

import pytest

from prodproven.runner.people.audit import Audit
from prodproven.runner.people.frameworks import Frameworks, RoleProfiles
from prodproven.runner.runs.store import Store
from prodproven.runner.spec.framework import (
    BUILTIN,
    CompetencyDef,
    Framework,
    FrameworkError,
    FrameworkNotFound,
    Level,
    RoleProfile,
    RoleProfileNotFound,
)

LEVELS = [Level(level=n, floor=(n - 1) * 20, means=f"level {n}") for n in range(1, 6)]


def acme(*competencies: str) -> Framework:
    return Framework(
        id="acme",
        name="Acme MLOps",
        competencies=[
            CompetencyDef(id=c, label=c, description=c, levels=LEVELS)
            for c in competencies or ("data_quality", "cost")
        ],
    )


@pytest.fixture
def frameworks(store: Store) -> Frameworks:
    return Frameworks(store, Audit(store))


@pytest.fixture
def profiles(frameworks: Frameworks) -> RoleProfiles:
    return RoleProfiles(frameworks)


def test_a_firm_sees_the_builtin_framework_then_its_own(frameworks: Frameworks) -> None:
    assert frameworks.all("firm-a") == [BUILTIN]
    frameworks.save("firm-a", acme(), "ada@a.example")
    assert [f.id for f in frameworks.all("firm-a")] == ["builtin", "acme"]
    assert frameworks.get("firm-a", "acme") == acme()
    assert frameworks.all("firm-b") == [BUILTIN]
    with pytest.raises(FrameworkNotFound, match="no framework 'acme'"):
        frameworks.get("firm-b", "acme")


def test_saving_again_replaces_the_framework(frameworks: Frameworks) -> None:
    frameworks.save("firm-a", acme(), "ada@a.example")
    frameworks.save("firm-a", acme("cost"), "ada@a.example")
    assert [c.id for c in frameworks.get("firm-a", "acme").competencies] == ["cost"]


def test_the_builtin_framework_is_neither_replaced_nor_deleted(frameworks: Frameworks) -> None:
    with pytest.raises(FrameworkError, match="built-in framework; choose another id"):
        frameworks.save("firm-a", BUILTIN, "ada@a.example")
    with pytest.raises(FrameworkError, match="built-in framework; it stays"):
        frameworks.delete("firm-a", "builtin", "ada@a.example")


def test_a_role_profile_is_kept_per_firm(profiles: RoleProfiles) -> None:
    profile = RoleProfile(name="ML engineer II", requires={"deployment": 3, "ai_judgment": 2})
    profiles.save("firm-a", profile, "ada@a.example")
    assert profiles.all("firm-a") == [profile]
    assert profiles.get("firm-a", "ML engineer II") == profile
    assert profiles.all("firm-b") == []
    with pytest.raises(RoleProfileNotFound):
        profiles.get("firm-b", "ML engineer II")
    with pytest.raises(RoleProfileNotFound):
        profiles.delete("firm-b", "ML engineer II", "bob@b.example")
    profiles.delete("firm-a", "ML engineer II", "ada@a.example")
    assert profiles.all("firm-a") == []


def test_a_role_profile_needs_its_firms_framework_and_competencies(
    frameworks: Frameworks, profiles: RoleProfiles
) -> None:
    profile = RoleProfile(name="Data engineer", framework="acme", requires={"cost": 2})
    with pytest.raises(FrameworkNotFound):
        profiles.save("firm-a", profile, "ada@a.example")
    frameworks.save("firm-b", acme(), "bob@b.example")
    with pytest.raises(FrameworkNotFound):  # firm-b's framework is not firm-a's
        profiles.save("firm-a", profile, "ada@a.example")
    frameworks.save("firm-a", acme("data_quality"), "ada@a.example")
    with pytest.raises(FrameworkError, match="'acme' has no competency 'cost'"):
        profiles.save("firm-a", profile, "ada@a.example")


def test_a_framework_in_use_keeps_what_its_role_profiles_require(
    frameworks: Frameworks, profiles: RoleProfiles
) -> None:
    frameworks.save("firm-a", acme(), "ada@a.example")
    profile = RoleProfile(name="Data engineer", framework="acme", requires={"cost": 2})
    profiles.save("firm-a", profile, "ada@a.example")
    with pytest.raises(FrameworkError, match="no competency 'cost'"):
        frameworks.save("firm-a", acme("data_quality"), "ada@a.example")
    with pytest.raises(FrameworkError, match=r"used by role profiles \['Data engineer'\]"):
        frameworks.delete("firm-a", "acme", "ada@a.example")
    profiles.delete("firm-a", "Data engineer", "ada@a.example")
    frameworks.delete("firm-a", "acme", "ada@a.example")
    assert frameworks.all("firm-a") == [BUILTIN]


def test_every_change_is_in_the_audit_log(
    store: Store, frameworks: Frameworks, profiles: RoleProfiles
) -> None:
    frameworks.save("firm-a", acme(), "ada@a.example")
    profiles.save("firm-a", RoleProfile(name="SRE", requires={"deployment": 2}), "ada@a.example")
    profiles.delete("firm-a", "SRE", "ada@a.example")
    frameworks.delete("firm-a", "acme", "ada@a.example")
    logged = [(e.actor, e.action, e.data) for e in reversed(Audit(store).entries("firm-a"))]
    assert logged == [
        ("ada@a.example", "framework.save", {"framework": "acme"}),
        ("ada@a.example", "role_profile.save", {"name": "SRE"}),
        ("ada@a.example", "role_profile.delete", {"name": "SRE"}),
        ("ada@a.example", "framework.delete", {"framework": "acme"}),
    ]
