"""How the notebook grader reads a cell's answer from its outputs."""

from __future__ import annotations

from typing import Any

from prodproven.graders.notebook import _text, _value


def stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def result(plain: str) -> dict[str, Any]:
    return {"output_type": "execute_result", "data": {"text/plain": plain}, "metadata": {}}


def test_a_printed_json_list_is_the_answer() -> None:
    assert _value(_text([stream('["a", "b"]\n')])) == ["a", "b"]


def test_a_returned_python_list_is_the_answer() -> None:
    assert _value(_text([result("['a', 'b']")])) == ["a", "b"]


def test_the_result_wins_over_printed_text() -> None:
    assert _value(_text([stream("working...\n"), result("[1]")])) == [1]


def test_only_the_last_printed_line_counts() -> None:
    assert _value(_text([stream("checking 10 features\n"), stream('["x"]\n')])) == ["x"]


def test_stderr_is_not_part_of_the_answer() -> None:
    outputs = [{"output_type": "stream", "name": "stderr", "text": "warn"}, stream("[2]")]
    assert _value(_text(outputs)) == [2]


def test_text_that_is_no_literal_stays_text() -> None:
    assert _value(_text([stream("no idea\n")])) == "no idea"


def test_code_is_never_evaluated() -> None:
    assert _value("__import__('os').getcwd()") == "__import__('os').getcwd()"
