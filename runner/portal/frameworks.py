"""Competency frameworks and role profiles as the portal hands them out: an assessor reads
their firm's (``read`` scope) and changes them (``review`` scope); the operator at the CLI
names the firm (the installation's ``firm`` setting unless told). A firm never sees another
firm's: they are "not found"."""

from __future__ import annotations

from pathlib import Path

from prodproven.runner.errors import ScopeDenied
from prodproven.runner.people.frameworks import Frameworks, RoleProfiles
from prodproven.runner.portal.access import Actor, Records
from prodproven.runner.spec.framework import Framework, FrameworkError, RoleProfile, load_either


class FrameworkDesk:
    """A firm's frameworks (the built-in one first) and role profiles."""

    def __init__(self, records: Records) -> None:
        self._default_firm = records.settings.firm
        self._frameworks = Frameworks(records.store, records.audit)
        self._profiles = RoleProfiles(self._frameworks)

    def firm(self, actor: Actor, firm: str | None = None) -> str:
        """The firm ``actor`` acts for: their own, or for the operator ``firm`` (default: the
        installation's). Raises ScopeDenied when an assessor names another firm."""
        if actor.firm is None:
            return firm or self._default_firm
        if firm not in (None, actor.firm):
            raise ScopeDenied("an assessor acts for their own firm only")
        return actor.firm

    def frameworks(self, actor: Actor, firm: str | None = None) -> list[Framework]:
        actor.require("read")
        return self._frameworks.all(self.firm(actor, firm))

    def framework(self, actor: Actor, framework_id: str, firm: str | None = None) -> Framework:
        """Raises FrameworkNotFound."""
        actor.require("read")
        return self._frameworks.get(self.firm(actor, firm), framework_id)

    def save_framework(
        self, actor: Actor, framework: Framework, firm: str | None = None
    ) -> Framework:
        """Raises FrameworkError (see :meth:`Frameworks.save`)."""
        actor.require("review")
        return self._frameworks.save(self.firm(actor, firm), framework, actor.label)

    def delete_framework(self, actor: Actor, framework_id: str, firm: str | None = None) -> None:
        """Raises FrameworkNotFound, FrameworkError."""
        actor.require("review")
        self._frameworks.delete(self.firm(actor, firm), framework_id, actor.label)

    def profiles(self, actor: Actor, firm: str | None = None) -> list[RoleProfile]:
        actor.require("read")
        return self._profiles.all(self.firm(actor, firm))

    def profile(self, actor: Actor, name: str, firm: str | None = None) -> RoleProfile:
        """Raises RoleProfileNotFound."""
        actor.require("read")
        return self._profiles.get(self.firm(actor, firm), name)

    def save_profile(
        self, actor: Actor, profile: RoleProfile, firm: str | None = None
    ) -> RoleProfile:
        """Raises FrameworkNotFound, FrameworkError."""
        actor.require("review")
        return self._profiles.save(self.firm(actor, firm), profile, actor.label)

    def delete_profile(self, actor: Actor, name: str, firm: str | None = None) -> None:
        """Raises RoleProfileNotFound."""
        actor.require("review")
        self._profiles.delete(self.firm(actor, firm), name, actor.label)

    def apply(self, actor: Actor, path: Path, firm: str | None = None) -> Framework | RoleProfile:
        """Save the framework or role profile a YAML file holds (a framework has
        ``competencies``, a role profile ``requires``). Raises FrameworkError naming the file
        and each field, UntrustedInput for a file too large or not YAML."""
        found = load_either(path)
        try:
            if isinstance(found, Framework):
                return self.save_framework(actor, found, firm)
            return self.save_profile(actor, found, firm)
        except FrameworkError as exc:
            raise FrameworkError(f"{path}: {exc}") from None
