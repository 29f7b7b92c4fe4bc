"""Generated material (runner/spec/prepare.py): the variant that seeds it is in range."""

from __future__ import annotations

import pytest

from prodproven.runner.spec.prepare import MAX_VARIANT, check_variant
from prodproven.sandbox.untrusted import UntrustedInput


@pytest.mark.parametrize("variant", [-1, MAX_VARIANT + 1, 10**20, True])
def test_a_variant_out_of_range_is_refused(variant: int) -> None:
    with pytest.raises(UntrustedInput, match="variant: .* must be a whole number from 0 to"):
        check_variant(variant)


def test_variants_from_0_to_the_maximum_are_accepted() -> None:
    assert [check_variant(v) for v in (0, 7, MAX_VARIANT)] == [0, 7, MAX_VARIANT]
