"""What a run is made of: its challenge (loaded again from the folder the run records), the
challenge's image, its services' images, its generated material (made once per version and
variant seed, then cached) and its probe's canaries. Starting, supervising, submitting and
grading a run all ask here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prodproven.runner.config import Settings
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.runs import prober, services
from prodproven.runner.runs.store import Run
from prodproven.runner.spec.challenge import Catalog, Challenge, load_challenge
from prodproven.runner.spec.prepare import Material, material
from prodproven.sandbox.environment import Backend
from prodproven.sandbox.images import ImageBuilder


class Provisioner:
    """Finds or builds what runs of a challenge need. ``report`` receives one line per slow
    step (building, generating)."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        images: ImageBuilder,
        catalog: Catalog,
        report: Callable[[str], None],
    ) -> None:
        self.images = images
        self.catalog = catalog
        self._backend = backend
        self._cache = settings.data_dir / "generated"
        self._report = report
        self._materials: dict[tuple[Path, str, int | None], Material] = {}

    def challenge_of(self, run: Run) -> Challenge:
        return load_challenge(Path(run.challenge_path), self.catalog)

    def challenge_image(self, challenge: Challenge) -> str:
        """The challenge's image, built on the workspace-tools layer (JupyterLab in /opt/lab)."""
        return self.images.recipe(
            f"challenge-{challenge.id}",
            challenge.path(challenge.spec.image.recipe),
            parent=self.images.lab(),
        )

    def service_plans(self, challenge: Challenge) -> list[services.ServicePlan]:
        return [
            services.ServicePlan(name, kind, self.images.recipe(kind.kind, kind.recipe))
            for name, kind in challenge.services(self.catalog)
        ]

    def client_env(self, challenge: Challenge) -> dict[str, str]:
        """The variables that point a run's containers at its services."""
        return services.client_env(challenge, self.catalog)

    def material(self, challenge: Challenge, variant: int | None = None) -> Material:
        key = (challenge.root, challenge.spec.version, variant)
        if key not in self._materials:
            image = self.challenge_image(challenge)
            self._report(f"preparing generated material for {challenge.id}")
            self._materials[key] = material(challenge, image, self._backend, self._cache, variant)
        return self._materials[key]

    def canaries(self, challenge: Challenge, variant: int | None) -> list[prober.Canary]:
        """The probe's canaries from the challenge's hidden material. Raises ProdprovenError
        when the file is missing, ProbeSetupError when it is malformed."""
        probe = challenge.spec.probe
        assert probe is not None
        path = self.material(challenge, variant).hidden_file(probe.canaries)
        if path is None:
            raise ProdprovenError(
                f"challenge {challenge.id}: the probe's canary file {probe.canaries!r} is "
                "missing from its hidden material"
            )
        return prober.load_canaries(path)
