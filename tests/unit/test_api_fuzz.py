"""The JSON API fuzzed from its own /openapi.json (schemathesis's strategies driven by
Hypothesis, in process, no Docker): an
assessor of one firm, with a second firm's runs and invitations in the same store, sends
generated requests to every route. Whatever is sent: no 5xx, no answer over the size cap, and
nothing of the other firm in any answer. Routes with a run id are also tried with a run of
each firm, so the generated bodies and queries reach real runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Ok

from prodproven.runner.portal.access import Actor
from tests.unit.websupport import Web, make_web

MAX_ANSWER = 1 << 20
"""No answer of the API is larger (1 MiB): lists come in pages, text fields are capped."""
EXAMPLES = 20
"""Cases per route and mode (valid and invalid requests): about 2x9x20 requests, in seconds."""
OTHER = "Zygmunt Otherfirm"
"""The other firm's candidate."""
OTHERS = ("zygmunt", "otherfirm", "lead@other.test")
"""What of the other firm must never be in an answer (lower case): its candidate's name and
email, its note, its assessor. (Its run's id may be: a request that sends it gets 404.)"""


def graded_run(web: Web, firm: str, name: str) -> str:
    _, link = web.portal.invitations.invite(
        Actor(f"lead@{firm}.test", firm), "deploy-model", name, f"{name.split()[0]}@x.test"
    )
    invitation = web.portal.records.invitations.redeem(link.rsplit("/", 1)[1])
    run = web.portal.invited.start(invitation.id)
    web.portal.invited.submit(invitation.id)
    web.portal.reviews.note(Actor(f"lead@{firm}.test", firm), run.id, f"note about {name}")
    return run.id


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


@pytest.fixture
def runs(web: Web) -> dict[str, str]:
    """A graded run of each firm, by firm."""
    return {"acme": graded_run(web, "acme", "Ada Ours"), "other": graded_run(web, "other", OTHER)}


def check(case: Case[Any], token: str, runs: dict[str, str]) -> None:
    """Send ``case`` (also with a run of each firm, when it names a run) and check each
    answer."""
    tried = [None, *runs.values()] if "run_id" in (case.path_parameters or {}) else [None]
    for run_id in tried:
        if run_id is not None:
            assert case.path_parameters is not None
            case.path_parameters["run_id"] = run_id
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        where = f"{case.method} {case.formatted_path} -> {response.status_code}"
        assert response.status_code < 500, f"{where}: {response.text[:500]}"
        assert len(response.content) <= MAX_ANSWER, f"{where}: {len(response.content)} bytes"
        assert not any(marker in response.text.lower() for marker in OTHERS), where
        if run_id == runs["other"]:
            assert 400 <= response.status_code < 500, where  # never its data


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_5xx_an_oversized_answer_or_another_firms_data(
    web: Web, runs: dict[str, str], mode: GenerationMode
) -> None:
    token = web.token()
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.client().app)
    operations = [
        cast(Ok[APIOperation[Any, Any, Any, Any]], r).ok() for r in schema.get_all_operations()
    ]
    assert len(operations) >= 9  # every route of the API is fuzzed
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Case[Any]) -> None:
            check(case, token, runs)

        fuzz()
