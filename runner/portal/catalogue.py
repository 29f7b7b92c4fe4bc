"""The challenges this installation offers, as the portal finds them."""

from __future__ import annotations

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.spec.challenge import Challenge, find_challenge, list_challenges


class Catalogue:
    """Challenges by id or folder, from the settings' challenge folders and installed packs."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def find(self, ref: str) -> Challenge:
        """Raises ChallengeNotFound."""
        return find_challenge(ref, self._settings.challenge_dirs, plugins.catalog())

    def all(self) -> list[Challenge]:
        """Every challenge that loads (broken ones are left out)."""
        found = list_challenges(self._settings.challenge_dirs, plugins.catalog())
        return [c for c in found if isinstance(c, Challenge)]

    @staticmethod
    def tools(challenge: Challenge) -> list[str]:
        """The names of the tools a candidate of ``challenge`` gets, JupyterLab first."""
        names = [ref.name for ref in challenge.spec.services]
        return ["lab", *names, *(p.name for p in challenge.spec.ports if p.name not in names)]
