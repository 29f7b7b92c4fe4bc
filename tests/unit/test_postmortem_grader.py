"""The postmortem grader: reading postmortem.md (front matter and sections) and checking it
against what the prober saw. The incident below is injected at 10:00:00Z, breaks the service
at once and is mitigated at 10:00:30Z (healthy from then on for longer than the stability
window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from prodproven.graders.base import GradeResult
from prodproven.graders.postmortem import (
    WEIGHTS,
    PostmortemGrader,
    PostmortemInvalid,
    PostmortemParams,
    parse,
    score_postmortem,
)
from prodproven.graders.slo import IncidentRecord, Injection, Sample, Slo

START = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
T0 = START.timestamp()
SLO = Slo(latency_ms=250, stability_s=60, interval_s=1.0)
CATEGORIES = ["bad_model_rollout", "latency_regression", "config_schema_change", "other"]
PARAMS = PostmortemParams(categories=CATEGORIES, tolerance_s=20, clock_tolerance_s=20)
INJECTION = Injection(
    event="incident",
    fault="schema-change",
    root_cause="config_schema_change",
    symptom="every request is rejected with a 422 error",
    at=T0,
)
SECTIONS = {
    "Summary": "The service rejected every request for 30 seconds.",
    "Timeline": "- 10:00:00 config push\n- 10:00:30 rolled back",
    "Root cause": "A config push renamed an input feature.",
    "Mitigation": "Rolled back config.yaml and restarted the service.",
    "Prevention": "- validate the schema in CI\n- canary config pushes",
}


def iso(offset_s: float) -> str:
    """The time ``offset_s`` seconds after the injection, as ISO 8601 with a Z."""
    return (START + timedelta(seconds=offset_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def incident(pattern: str, injections: list[Injection] | None = None) -> IncidentRecord:
    """Samples one a second from six seconds before the injection: H healthy, x HTTP 422."""
    found = [
        Sample(T0 - 6 + i, 200, 40.0, True) if c == "H" else Sample(T0 - 6 + i, 422, 5.0, None)
        for i, c in enumerate(pattern)
    ]
    return IncidentRecord(
        slo=SLO, injections=[INJECTION] if injections is None else injections, samples=found
    )


MITIGATED = incident("H" * 6 + "x" * 30 + "H" * 120)  # mitigated at T0 + 30
NEVER_MITIGATED = incident("H" * 6 + "x" * 90)


def document(
    *,
    root_cause: str = "config_schema_change",
    detected_at: str | None = iso(10),
    mitigated_at: str | None = iso(30),
    sections: dict[str, str] | None = None,
) -> str:
    def value(text: str | None) -> str:
        return "null" if text is None else f'"{text}"'

    body = "".join(
        f"\n## {title}\n\n{text}\n"
        for title, text in (SECTIONS if sections is None else sections).items()
    )
    return (
        f"---\nroot_cause: {root_cause}\ndetected_at: {value(detected_at)}\n"
        f"mitigated_at: {value(mitigated_at)}\n---\n\n# Postmortem: churn service outage\n{body}"
    )


def grade(
    text: str, found: IncidentRecord = MITIGATED, params: PostmortemParams = PARAMS
) -> GradeResult:
    return score_postmortem(parse(text), found, params)


def front(yaml_text: str) -> str:
    return f"---\n{yaml_text}\n---\n## Summary\n\nok\n"


# parse: front matter -----------------------------------------------------------------------


def test_front_matter_and_sections_are_read() -> None:
    postmortem = parse(document())
    assert postmortem.front == {
        "root_cause": "config_schema_change",
        "detected_at": iso(10),
        "mitigated_at": iso(30),
    }
    assert postmortem.sections["root cause"] == "A config push renamed an input feature."
    assert postmortem.timestamp("detected_at") == T0 + 10


def invalid(text: str) -> str:
    with pytest.raises(PostmortemInvalid) as info:
        parse(text)
    return str(info.value)


@pytest.mark.parametrize("text", ["", "# Postmortem\n\n---\nroot_cause: other\n---\n"])
def test_a_document_without_front_matter_is_invalid(text: str) -> None:
    assert invalid(text) == "it does not start with a front matter block ('---' on line 1)"


def test_the_front_matter_must_start_on_the_first_line() -> None:
    assert "does not start with a front matter block" in invalid("\n" + document())


def test_a_byte_order_mark_before_the_front_matter_is_ignored() -> None:
    assert parse("\ufeff" + document()).front["root_cause"] == "config_schema_change"


def test_an_unclosed_front_matter_block_is_invalid() -> None:
    text = "---\nroot_cause: other\ndetected_at: null\nmitigated_at: null\n## Summary\n"
    assert invalid(text) == "the front matter block is not closed with '---'"


def test_front_matter_that_is_not_yaml_is_invalid() -> None:
    assert invalid(front("root_cause: [unclosed")).startswith("the front matter: not valid YAML")


@pytest.mark.parametrize("yaml_text", ["- root_cause\n- detected_at", "just words"])
def test_front_matter_that_is_not_a_mapping_is_invalid(yaml_text: str) -> None:
    assert invalid(front(yaml_text)) == "the front matter must be a mapping of keys to values"


def test_missing_front_matter_keys_are_named() -> None:
    assert invalid(front("root_cause: other")) == (
        "the front matter lacks detected_at, mitigated_at"
    )


def test_empty_front_matter_lacks_every_key() -> None:
    assert invalid("---\n---\n") == ("the front matter lacks root_cause, detected_at, mitigated_at")


# parse: timestamps -------------------------------------------------------------------------


def times(detected_at: str, mitigated_at: str = "null") -> tuple[float | None, float | None]:
    postmortem = parse(
        front(f"root_cause: other\ndetected_at: {detected_at}\nmitigated_at: {mitigated_at}")
    )
    return postmortem.timestamp("detected_at"), postmortem.timestamp("mitigated_at")


def test_a_timestamp_that_is_not_iso_8601_is_invalid() -> None:
    message = invalid(front("root_cause: other\ndetected_at: just after ten\nmitigated_at: null"))
    assert message == (
        "detected_at: 'just after ten' is not an ISO 8601 time like 2026-11-22T10:15:03Z"
    )


def test_a_bad_mitigation_time_is_named_too() -> None:
    message = invalid(front("root_cause: other\ndetected_at: null\nmitigated_at: 10 o'clock"))
    assert message.startswith('mitigated_at: "10 o\'clock" is not an ISO 8601 time')


def test_a_date_without_a_time_is_invalid() -> None:
    message = invalid(front("root_cause: other\ndetected_at: 2026-11-22\nmitigated_at: null"))
    assert message == "detected_at: 2026-11-22 is a date; a time is needed"


def test_a_quoted_date_without_a_time_is_invalid_too() -> None:
    message = invalid(front('root_cause: other\ndetected_at: "2026-11-22"\nmitigated_at: null'))
    assert message == "detected_at: 2026-11-22 is a date; a time is needed"


def test_a_z_suffix_means_utc() -> None:
    assert times('"2026-11-22T10:00:10Z"') == (T0 + 10, None)


@pytest.mark.parametrize(
    "value", ["2026-11-22T10:00:10Z", "2026-11-22T12:00:10+02:00", "2026-11-22 10:00:10.0 Z"]
)
def test_yaml_native_datetimes_are_read_with_their_zone(value: str) -> None:
    assert times(value)[0] == T0 + 10


@pytest.mark.parametrize("value", ['"2026-11-22T10:00:10"', "2026-11-22 10:00:10"])
def test_a_time_without_a_zone_is_taken_as_utc(value: str) -> None:
    assert times(value)[0] == T0 + 10


def test_a_quoted_offset_is_honoured() -> None:
    assert times('"2026-11-22T11:00:10+01:00"', '"2026-11-22T05:00:30-05:00"') == (
        T0 + 10,
        T0 + 30,
    )


@pytest.mark.parametrize("value", ["null", "~", ""])
def test_a_null_timestamp_is_none(value: str) -> None:
    assert times(value) == (None, None)


# parse: sections ---------------------------------------------------------------------------

NULLS = "---\nroot_cause: other\ndetected_at: null\nmitigated_at: null\n---\n"


def test_sections_are_found_by_heading_of_any_level_case_insensitively() -> None:
    text = NULLS + "# SUMMARY\nshort\n### Root Cause\nconfig\n###### prevention ######\n- a\n"
    assert parse(text).sections == {"summary": "short", "root cause": "config", "prevention": "- a"}


def test_punctuation_in_headings_is_ignored() -> None:
    sections = parse(NULLS + "## Root-cause:\nconfig\n## Time line / events\n- 10:00\n").sections
    assert sections == {"root cause": "config", "time line events": "- 10:00"}


def test_a_repeated_heading_continues_its_section() -> None:
    sections = parse(NULLS + "## Prevention\n- a\n## Summary\nok\n## prevention\n- b\n").sections
    assert sections["prevention"] == "- a\n- b"


def test_text_before_the_first_heading_belongs_to_no_section() -> None:
    assert parse(NULLS + "Preamble\n# A\nb\n").sections == {"a": "b"}


def test_a_hash_without_a_space_is_not_a_heading() -> None:
    sections = parse(NULLS + "## Mitigation\n#rollback in the channel\n").sections
    assert sections == {"mitigation": "#rollback in the channel"}


# score_postmortem --------------------------------------------------------------------------


def test_a_complete_and_consistent_postmortem_scores_full_marks() -> None:
    result = grade(document())
    assert result.score == pytest.approx(1.0)
    assert result.passed is True
    assert result.summary == "complete and consistent with the prober's record"
    assert result.evidence["parts"] == {
        "sections": 1.0,
        "root_cause": 1.0,
        "timeline": 1.0,
        "prevention": 1.0,
    }
    assert result.findings == []


def test_the_evidence_sets_the_claims_beside_the_observations() -> None:
    result = grade(document())
    assert result.evidence["claimed"] == {
        "root_cause": "config_schema_change",
        "detected_at": T0 + 10,
        "mitigated_at": T0 + 30,
    }
    assert result.evidence["observed"] == {
        "root_cause": "config_schema_change",
        "injected_at": T0,
        "broke_at": T0,
        "mitigated_at": T0 + 30,
    }
    assert result.evidence["weights"] == WEIGHTS


def test_each_missing_or_empty_section_costs_its_share() -> None:
    sections = {**SECTIONS, "Mitigation": ""}
    del sections["Timeline"]
    result = grade(document(sections=sections))
    assert result.evidence["parts"]["sections"] == 0.6
    assert result.score == pytest.approx(1 - 0.25 * 0.4)
    assert "missing or empty sections: Timeline, Mitigation" in result.summary
    assert result.evidence["sections_present"] == ["Summary", "Root cause", "Prevention"]


def test_the_required_sections_are_a_parameter() -> None:
    params = PARAMS.model_copy(update={"sections": ["Summary", "Lessons learned"]})
    result = grade(document(), params=params)
    assert result.evidence["parts"]["sections"] == 0.5
    assert "missing or empty sections: Lessons learned" in result.summary


def test_a_wrong_root_cause_earns_no_root_cause_credit() -> None:
    result = grade(document(root_cause="bad_model_rollout"))
    assert result.evidence["parts"]["root_cause"] == 0.0
    assert result.score == pytest.approx(1 - WEIGHTS["root_cause"])
    assert "root_cause 'bad_model_rollout' does not match what was injected" in result.summary


def test_a_root_cause_outside_the_categories_is_named() -> None:
    result = grade(document(root_cause="gremlins"))
    assert result.evidence["parts"]["root_cause"] == 0.0
    assert f"root_cause 'gremlins' is not one of {CATEGORIES}" in result.summary


@pytest.mark.parametrize("detected_s", [-20, 0, 10, 30, 50, 3600])
def test_any_detection_from_the_injection_on_give_or_take_the_clock_tolerance_is_right(
    detected_s: float,
) -> None:
    result = grade(document(detected_at=iso(detected_s)))
    assert (result.evidence["parts"]["timeline"], result.findings) == (1.0, [])


def test_noticing_late_even_after_the_mitigation_is_not_marked_down() -> None:
    # How late someone noticed cannot be checked against anything: it is their account.
    result = grade(document(detected_at=iso(600), mitigated_at=iso(30)))
    assert result.score == pytest.approx(1.0)
    assert result.findings == []


def test_noticing_the_deploy_before_the_prober_saw_a_failure_is_right() -> None:
    late_break = incident("H" * 6 + "H" * 40 + "x" * 30 + "H" * 120)  # broke at T0 + 40
    result = grade(document(detected_at=iso(5), mitigated_at=iso(70)), late_break)
    assert result.evidence["observed"]["broke_at"] == T0 + 40
    assert (result.evidence["parts"]["timeline"], result.findings) == (1.0, [])


def test_detection_before_the_incident_is_a_finding() -> None:
    result = grade(document(detected_at=iso(-21)))
    assert result.evidence["parts"]["timeline"] == 0.5
    assert "detected_at is before the incident began" in result.summary
    assert [(f.kind, f.message, f.evidence) for f in result.findings] == [
        (
            "detected_before_incident",
            "the postmortem says the incident was noticed 21 s before the fault was injected",
            {"claimed_detected_at": T0 - 21, "injected_at": T0, "clock_tolerance_s": 20},
        )
    ]


def test_the_clock_tolerance_defaults_to_a_minute_for_times_written_to_the_minute() -> None:
    params = PostmortemParams(categories=CATEGORIES, tolerance_s=20)
    assert params.clock_tolerance_s == 60
    assert grade(document(detected_at=iso(-60)), params=params).findings == []
    assert len(grade(document(detected_at=iso(-61)), params=params).findings) == 1


def test_a_missing_detection_time_is_wrong() -> None:
    result = grade(document(detected_at=None))
    assert (result.evidence["parts"]["timeline"], result.findings) == (0.5, [])
    assert "detected_at is missing" in result.summary


@pytest.mark.parametrize("mitigated_s", [10, 30, 50])
def test_a_mitigation_time_within_tolerance_of_the_probers_is_right(mitigated_s: int) -> None:
    result = grade(document(detected_at=iso(5), mitigated_at=iso(mitigated_s)))
    assert result.evidence["parts"]["timeline"] == 1.0


@pytest.mark.parametrize("mitigated_s", [9, 51])
def test_a_mitigation_time_further_from_the_probers_than_tolerance_is_wrong(
    mitigated_s: int,
) -> None:
    result = grade(document(detected_at=iso(5), mitigated_at=iso(mitigated_s)))
    assert result.evidence["parts"]["timeline"] == 0.5
    assert "mitigated_at disagrees with the prober's record" in result.summary
    assert result.findings == []


def test_a_null_mitigation_is_consistent_when_the_prober_saw_none() -> None:
    result = grade(document(mitigated_at=None), NEVER_MITIGATED)
    assert result.evidence["parts"]["timeline"] == 1.0
    assert result.findings == []


def test_a_null_mitigation_is_wrong_when_the_prober_saw_one() -> None:
    result = grade(document(mitigated_at=None))
    assert result.evidence["parts"]["timeline"] == 0.5
    assert result.findings == []


def test_a_claimed_mitigation_the_prober_never_saw_is_a_finding() -> None:
    result = grade(document(mitigated_at=iso(30)), NEVER_MITIGATED)
    assert result.evidence["parts"]["timeline"] == 0.5
    assert [(f.kind, f.evidence) for f in result.findings] == [
        ("claimed_mitigation_not_observed", {"claimed_mitigated_at": T0 + 30})
    ]


@pytest.mark.parametrize(
    "prevention,items,part",
    [
        ("We will be more careful.", 0, 0.0),
        ("- validate the schema in CI", 1, 0.5),
        ("- validate the schema\n* canary pushes", 2, 1.0),
        ("1. validate\n2) canary\n+ alert on 4xx\n  - nested too", 4, 1.0),
    ],
)
def test_prevention_counts_list_items_under_prevention(
    prevention: str, items: int, part: float
) -> None:
    result = grade(document(sections={**SECTIONS, "Prevention": prevention}))
    assert result.evidence["prevention_items"] == items
    assert result.evidence["parts"]["prevention"] == part


def test_list_items_in_other_sections_are_not_prevention_items() -> None:
    sections = {**SECTIONS, "Summary": "- one\n- two\n- three", "Prevention": "Be careful."}
    assert grade(document(sections=sections)).evidence["prevention_items"] == 0


def test_lines_that_only_look_like_list_items_are_not_counted() -> None:
    prevention = "-not an item\n1.5 seconds of\n-\n* real item"
    result = grade(document(sections={**SECTIONS, "Prevention": prevention}))
    assert result.evidence["prevention_items"] == 1


def test_a_run_without_an_injection_scores_zero() -> None:
    result = grade(document(), incident("H" * 60, injections=[]))
    assert (result.score, result.passed) == (0.0, False)
    assert result.summary == "no fault was injected in this run, so no postmortem can be checked"


# the grader --------------------------------------------------------------------------------


class WorkspaceEnv:
    def __init__(self, content: bytes | None, found: IncidentRecord = MITIGATED) -> None:
        self.content = content
        self.found = found
        self.asked: list[str] = []

    def incident(self) -> IncidentRecord:
        return self.found

    def workspace_file(self, rel: str, *, max_bytes: int = 0) -> bytes | None:
        self.asked.append(rel)
        return self.content

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the postmortem grader should not use {name}")


def run_grader(env: WorkspaceEnv, params: PostmortemParams = PARAMS) -> GradeResult:
    return PostmortemGrader().grade(env, params)


def test_the_grader_reads_the_postmortem_from_the_workspace() -> None:
    env = WorkspaceEnv(document().encode())
    params = PARAMS.model_copy(update={"path": "docs/pm.md"})
    assert run_grader(env, params).score == pytest.approx(1.0)
    assert env.asked == ["docs/pm.md"]


def test_a_missing_postmortem_scores_zero() -> None:
    result = run_grader(WorkspaceEnv(None))
    assert (result.score, result.summary) == (0.0, "postmortem.md is missing from the workspace")


def test_an_unreadable_postmortem_scores_zero_with_the_reason() -> None:
    result = run_grader(WorkspaceEnv(b"# Postmortem\nno front matter"))
    assert result.score == 0.0
    assert result.summary == (
        "postmortem.md cannot be read: it does not start with a front matter block "
        "('---' on line 1)"
    )
    assert result.evidence == {"problem": result.summary}
