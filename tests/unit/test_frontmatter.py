"""Markdown documents with YAML front matter: what is a section, what is refused and why
(the postmortem grader's tests cover its own keys and timestamps)."""

from __future__ import annotations

import pytest

from prodproven.graders.frontmatter import DocumentInvalid, norm, parse_document


def test_sections_are_keyed_by_their_normalised_heading_at_any_level() -> None:
    doc = parse_document(
        "---\na: 1\n---\n# Title\n## Options  Considered!\nthree\n### Decision\nx\n"
    )
    assert doc.front == {"a": 1}
    assert doc.sections == {"title": "", "options considered": "three", "decision": "x"}
    assert norm("Options: considered") == "options considered"


def test_a_heading_inside_a_code_fence_is_text() -> None:
    doc = parse_document("---\na: 1\n---\n## Decision\n```\n## not a heading\n```\n")
    assert list(doc.sections) == ["decision"]
    assert "## not a heading" in doc.sections["decision"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no front matter", "it does not start with a front matter block"),
        ("---\na: 1\n", "the front matter block is not closed"),
        ("---\n- a\n---\n", "the front matter must be a mapping"),
        ("---\na: [1\n---\n", "the front matter: not valid YAML"),
        ("---\nb: 1\n---\n", "the front matter lacks a"),
    ],
)
def test_unreadable_documents_say_why(text: str, problem: str) -> None:
    with pytest.raises(DocumentInvalid, match=problem):
        parse_document(text, required=("a",))


def test_the_front_matter_is_read_with_the_bounded_loader() -> None:
    anchors = "".join(f"k{i}: &a{i} [1]\n" for i in range(70))
    uses = ", ".join(f"*a{i}" for i in range(70))
    with pytest.raises(DocumentInvalid, match="aliases"):
        parse_document(f"---\n{anchors}x: [{uses}]\n---\n")
