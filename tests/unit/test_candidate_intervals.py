"""A candidate's competency values carry a 90% interval in `candidate show --json` and on the
candidate page: wide for one run, with the assumption it rests on stated (docs/candidates.md)."""

from __future__ import annotations

import json
from pathlib import Path

from markupsafe import escape

from prodproven.runner.people.track_record import INTERVAL_NOTE
from tests.unit.test_cli import prodproven
from tests.unit.test_cli_people import graded_run
from tests.unit.test_web_verdict import graded_as, missed
from tests.unit.websupport import make_web


def test_candidate_show_json_gives_each_competency_its_interval(tmp_path: Path) -> None:
    graded_run(tmp_path)
    shown = prodproven("candidate", "show", "Ada", "--json", env_dir=tmp_path)
    assert shown.returncode == 0, shown.stderr
    for name, competency in json.loads(shown.stdout)["competencies"].items():
        low, high = competency["interval"]
        assert low <= competency["value"] <= high, name
        assert competency["value"] - low > 16  # one run: at least 1.645 × OCCASION_SD below
        assert competency["standard_error"] >= 10 and competency["effective_runs"] == 1


def test_the_candidate_page_shows_the_interval_and_what_it_assumes(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    graded_as(web, missed(), "Dana")
    page = web.assessor().get("/candidates/Dana").text
    assert "<th>90% interval</th>" in page
    assert "one run: a wide band" in page
    assert str(escape(INTERVAL_NOTE)) in page
