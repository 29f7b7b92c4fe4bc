"""The gate's part of a challenge spec: where the reference, the starter and the calibration
ladder must land, the slow responder and the noise check (``challenge validate``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from prodproven.runner.spec.model import DAY_S
from prodproven.runner.spec.model import Strict as _Strict


class Band(_Strict):
    min: float | None = Field(None, ge=0, le=100, description="lowest score allowed, of 100")
    max: float | None = Field(None, ge=0, le=100, description="highest score allowed, of 100")

    def contains(self, score: float) -> bool:
        return (self.min is None or score >= self.min) and (self.max is None or score <= self.max)

    def __str__(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min:g}..{self.max:g}"
        return f">= {self.min:g}" if self.min is not None else f"<= {self.max:g}"


class SlowCheck(_Strict):
    """The reference responder again, started ``delay_s`` late; it must score at least
    ``margin`` points below the prompt one (challenges whose score depends on speed)."""

    delay_s: float = Field(240, gt=0, le=DAY_S, description="how late the slow responder starts")
    margin: float = Field(10, ge=0, le=100, description="points it must score below the prompt one")


class NoiseCheck(_Strict):
    """The reference run graded ``repeats`` times from its one archive: each grader's score
    and the total may spread (max - min) at most ``tolerance`` points of 100."""

    repeats: int = Field(3, ge=2, le=10, description="gradings of the same archive")
    tolerance: float = Field(10, ge=0, le=100, description="largest spread allowed, in points")


class CalibrationSubmission(_Strict):
    """One rung of the ladder: a realistic submission in ``calibration/<name>/`` (the same
    form as ``solution/``) and what a practitioner would conclude of it."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,40}$", description="its folder under calibration/"
    )
    extends: Literal["reference"] | None = Field(
        None,
        description="`reference`: the submission is solution/ overlaid with its folder's own "
        "files (a variation of the reference without a copy of it)",
    )
    passed: bool = Field(description="whether a practitioner would pass it")
    band: Band = Field(description="where its score must land")
    fault: str | None = Field(
        None, description="the fault it faces, for challenges with incidents (default: drawn)"
    )
    why: str = Field(min_length=10, description="the shortfall, as a practitioner would put it")


class Calibration(_Strict):
    """The calibration ladder ``challenge validate`` runs and checks."""

    submissions: list[CalibrationSubmission] = Field(
        min_length=1, description="realistic submissions, each a recognisable way to fall short"
    )
    order: list[str] = Field(
        default_factory=list,
        description="names from best to worst score (`reference` and `starter` allowed); "
        "the gate fails when a later one scores above an earlier one",
    )

    @model_validator(mode="after")
    def _order_names_known(self) -> Calibration:
        known = {"reference", "starter", *(s.name for s in self.submissions)}
        unknown = [name for name in self.order if name not in known]
        if unknown:
            raise ValueError(f"order names unknown submissions {unknown} (known: {sorted(known)})")
        return self


def check_calibration(
    calibration: Calibration | None, root: Path, faults: set[str]
) -> Iterable[str]:
    """Problems of the ``calibration`` section: folders missing, names twice, unknown faults."""
    if calibration is None:
        return
    seen: set[str] = set()
    for index, sub in enumerate(calibration.submissions):
        where = f"calibration.submissions.{index}"
        if sub.name in seen or sub.name in ("reference", "starter"):
            yield f"{where}.name: {sub.name!r} is used twice or reserved"
        seen.add(sub.name)
        if not (root / "calibration" / sub.name).is_dir():
            yield f"{where}: the folder {root / 'calibration' / sub.name} is missing"
        if sub.extends == "reference" and not (root / "solution").is_dir():
            yield f"{where}.extends: reference, but the folder {root / 'solution'} is missing"
        if sub.fault is not None and sub.fault not in faults:
            yield f"{where}.fault: no fault named {sub.fault!r} (faults: {sorted(faults)})"


class Validation(_Strict):
    reference: Band = Field(
        default_factory=lambda: Band(min=90), description="where the reference solution must score"
    )
    starter: Band = Field(
        default_factory=lambda: Band(max=40), description="where the untouched starter must score"
    )
    slow: SlowCheck | None = Field(
        None, description="also check that a late response scores lower (incident challenges)"
    )
    noise: NoiseCheck = Field(
        default_factory=NoiseCheck,
        description="how steady the graders must be on one archive graded several times",
    )
