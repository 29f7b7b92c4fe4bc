"""The challenges this installation offers, as the portal finds them: by id only (the web and
the API never name a folder), with the ones that do not load left out and counted."""

from __future__ import annotations

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.errors import ChallengeNotFound, ProdprovenError
from prodproven.runner.spec.challenge import Challenge, Unloadable, find_by_id, list_challenges


class Catalogue:
    """Challenges by id, from the settings' challenge folders and installed packs."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def find_id(self, challenge_id: str) -> Challenge:
        """The challenge with that id. Anything else (a path, a challenge that does not load)
        is ChallengeNotFound, whose message quotes no file and says nothing of paths."""
        try:
            return find_by_id(challenge_id, self._settings.challenge_dirs, plugins.catalog())
        except ChallengeNotFound:
            raise
        except ProdprovenError:
            raise ChallengeNotFound(
                f"challenge {challenge_id!r} cannot be loaded; an operator sees why with "
                "`prodproven challenge list`"
            ) from None

    def all(self) -> list[Challenge]:
        """Every challenge that loads (broken ones are left out; see :meth:`problems`)."""
        return [c for c in self._listed() if isinstance(c, Challenge)]

    def problems(self) -> list[Unloadable]:
        """The challenge folders that do not load (for pages to say how many, and operators
        why)."""
        return [c for c in self._listed() if isinstance(c, Unloadable)]

    def _listed(self) -> list[Challenge | Unloadable]:
        return list_challenges(self._settings.challenge_dirs, plugins.catalog())

    @staticmethod
    def tools(challenge: Challenge) -> list[str]:
        """The names of the tools a candidate of ``challenge`` gets, JupyterLab first."""
        names = [ref.name for ref in challenge.spec.services]
        return ["lab", *names, *(p.name for p in challenge.spec.ports if p.name not in names)]
