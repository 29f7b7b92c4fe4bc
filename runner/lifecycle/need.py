"""What a run holds while it has a pod: the memory and CPUs admission reserves for it on one
machine (``admission.py``) and its pod reserves where a backend places pods (``start.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prodproven.runner.runs import prober
from prodproven.runner.spec.challenge import Catalog, Challenge
from prodproven.runner.spec.prepare import pod_size
from prodproven.sandbox.environment import PodSize
from prodproven.sandbox.services import ServiceKind

GIB = 2**30


@dataclass(frozen=True)
class Need(PodSize):
    """Memory and CPUs, held by a run or available to all of them (``admission.py``)."""

    def __str__(self) -> str:
        return f"{self.memory_bytes / GIB:.2f} GiB of memory and {self.cpus:g} CPUs"


NOTHING = Need(0, 0.0)


def need_of(challenge: Challenge, catalog: Catalog) -> Need:
    """What one run of ``challenge`` holds while it has a pod, and so what its pod reserves:
    its declared reservation, or the sum of the limits of the containers its pod keeps."""
    return need(challenge, [kind for _, kind in challenge.services(catalog)])


def need(challenge: Challenge, kinds: Sequence[ServiceKind]) -> Need:
    """:func:`need_of`, the kinds of the challenge's services given (as a start plans them)."""
    declared = challenge.spec.reservation
    if declared is not None:
        return Need(declared.memory_bytes, declared.cpus)
    own = challenge.spec.resources.limits
    limits = [own, *(kind.limits for kind in kinds)]
    live = challenge.live_service
    if live is not None:
        limits.append(live.limits or own)
    if challenge.spec.probe is not None:
        limits.append(prober.LIMITS)
    size = pod_size(limits)
    return Need(size.memory_bytes, size.cpus)
