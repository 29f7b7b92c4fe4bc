"""Outside input is read within limits and its paths stay inside their folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodproven.sandbox.untrusted import (
    UntrustedInput,
    confine,
    finite,
    load_json,
    load_yaml,
    read_text,
)

ALIAS_BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)


def test_a_yaml_alias_bomb_is_refused_while_read_with_a_short_message() -> None:
    with pytest.raises(UntrustedInput, match="more than 64 aliases") as err:
        load_yaml(ALIAS_BOMB, what="challenge.yaml")
    assert len(str(err.value)) < 400


def test_yaml_aliases_within_the_limit_load() -> None:
    assert load_yaml("a: &x 1\nb: *x\n", what="y") == {"a": 1, "b": 1}


def test_deep_yaml_and_large_yaml_are_refused() -> None:
    with pytest.raises(UntrustedInput, match="deeper than 64"):
        load_yaml("[" * 100 + "]" * 100, what="deep.yaml")
    with pytest.raises(UntrustedInput, match="over the limit"):
        load_yaml("a: " + "x" * 100, what="big.yaml", max_bytes=50)


def test_a_50000_deep_json_document_is_refused() -> None:
    with pytest.raises(UntrustedInput, match="deeper than 64"):
        load_json("[" * 50_000 + "]" * 50_000, what="credential", max_bytes=1 << 20)


def test_json_nan_and_infinity_are_refused() -> None:
    for text in ("[NaN]", '{"a": Infinity}'):
        with pytest.raises(UntrustedInput, match="not a JSON number"):
            load_json(text, what="note")


@pytest.mark.parametrize("path", ["/etc/passwd", "../../etc/passwd", "a/../../b", ""])
def test_paths_out_of_their_folder_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(UntrustedInput, match="prepare.script"):
        confine(tmp_path, path, what="prepare.script")


def test_a_symlink_leading_out_is_refused_and_one_inside_is_followed(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to("/etc")
    (tmp_path / "real").mkdir()
    (tmp_path / "in").symlink_to(tmp_path / "real")
    with pytest.raises(UntrustedInput, match="symlink"):
        confine(tmp_path, "out/passwd", what="hidden")
    assert confine(tmp_path, "in/x", what="hidden") == (tmp_path / "real" / "x").resolve()


def test_read_text_refuses_a_file_over_its_limit_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 100)
    with pytest.raises(UntrustedInput, match="100 bytes"):
        read_text(big, what="manifest", max_bytes=10)
    assert read_text(big, what="manifest") == "x" * 100


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e308, -1.0])
def test_finite_refuses_non_finite_and_out_of_range(value: float) -> None:
    with pytest.raises(UntrustedInput, match="days"):
        finite(value, what="days", low=0, high=365)
