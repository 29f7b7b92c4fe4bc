"""docs/authoring.md cannot drift: its reference is rendered from the typed models, and its
tutorial's files load as a challenge."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prodproven.runner import plugins
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.present.specdoc import (
    END,
    REGENERATE,
    START,
    main,
    reference_in,
    render_reference,
    shown_files,
    with_reference,
)
from prodproven.runner.spec.challenge import ChallengeSpec, load_challenge
from tests.conftest import REPO_ROOT
from tests.unit.test_docs import model_fields

AUTHORING = REPO_ROOT / "docs" / "authoring.md"


@pytest.fixture(scope="module")
def rendered() -> str:
    return render_reference(plugins.graders())


def grader_section(rendered: str, kind: str) -> str:
    return rendered.split(f"### Grader `{kind}`", 1)[1].split("\n### ", 1)[0]


def test_the_reference_in_authoring_md_is_up_to_date(rendered: str) -> None:
    assert reference_in(AUTHORING.read_text()) == rendered, (
        f"docs/authoring.md's reference is out of date: run `{REGENERATE}`"
    )


@pytest.mark.parametrize("field", sorted(model_fields(ChallengeSpec)))
def test_every_spec_field_is_in_the_reference(rendered: str, field: str) -> None:
    assert f"| `{field}` |" in rendered


@pytest.mark.parametrize("kind", sorted(plugins.graders()))
def test_every_grader_parameter_is_in_its_section_of_the_reference(
    rendered: str, kind: str
) -> None:
    section = grader_section(rendered, kind)
    assert plugins.graders()[kind].description in section
    for field in model_fields(plugins.graders()[kind].Params):
        assert f"| `{field}` |" in section, f"{kind} parameter {field} is not in the reference"


def test_a_nested_model_field_is_listed_with_its_own_row(rendered: str) -> None:
    assert "| `probe.slo` | `SloSpec` | required |" in rendered
    assert "| `probe.slo.latency_ms` | `float` | required |" in rendered


def test_types_read_like_python_with_choices_spelled_out(rendered: str) -> None:
    assert "| `prepare` | `Prepare \\| None` | none |" in rendered
    assert "| `probe.method` | `GET \\| POST` | `POST` |" in rendered
    assert "| `service.command` | `list[str]` | required |" in rendered


def test_defaults_are_written_as_yaml(rendered: str) -> None:
    assert "| `validation.reference` | `Band` | `{min: 90.0}` |" in rendered
    assert "| `service.during_run` | `bool` | `false` |" in rendered


def test_field_descriptions_come_from_the_models(rendered: str) -> None:
    described = ChallengeSpec.model_fields["time_limit_minutes"].description
    assert described and f"| `time_limit_minutes` | `float` | required | {described} |" in rendered


def test_the_tutorial_challenge_loads(tmp_path: Path) -> None:
    files = shown_files(AUTHORING.read_text())
    for rel, body in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    challenge = load_challenge(tmp_path / "hello-service", plugins.catalog())
    assert [g.kind for g in challenge.spec.graders] == ["correctness", "pytest"]


def test_the_tutorial_shows_a_reference_solution_and_hidden_tests() -> None:
    files = shown_files(AUTHORING.read_text())
    assert "hello-service/solution/app.py" in files
    assert any(rel.startswith("hello-service/hidden/tests/test_") for rel in files)


def test_regenerating_replaces_only_the_reference_block() -> None:
    document = f"# Title\n\ntutorial\n\n{START}\nstale\n{END}\n\nafter\n"
    assert with_reference(document, "fresh\n") == (
        f"# Title\n\ntutorial\n\n{START}\nfresh\n{END}\n\nafter\n"
    )


def test_a_document_without_the_markers_is_refused() -> None:
    with pytest.raises(ProdprovenError, match="reference:start"):
        with_reference("# no markers here\n", "fresh\n")


def test_the_module_rewrites_the_file_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rendered: str
) -> None:
    document = tmp_path / "authoring.md"
    document.write_text(f"intro\n{START}\nstale\n{END}\n")
    monkeypatch.setattr(sys, "argv", ["specdoc", str(document)])
    main()
    assert document.read_text() == f"intro\n{START}\n{rendered}{END}\n"
