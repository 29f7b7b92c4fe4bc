"""The run page's "How the candidate worked" card and its pages (runner/web/workprocess.py):
the summary, signals and timeline on the run page, each recording's player with its markers
and jump buttons (or, without the player installed, a line saying so), a step's diff, a
terminal's transcript shown as escaped text and its cast downloaded as it is; another firm's
assessor, or nobody signed in, gets none of them."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from prodproven.runner.runs import recording, retention
from prodproven.runner.runs.store import utcnow
from prodproven.runner.web import workprocess
from tests.unit.websupport import Web, graded_run, make_web
from tests.unit.workprocess_support import CAST, plant


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def planted(web: Web) -> str:
    """A graded run of acme's with the planted recordings and timeline, archived at submit
    and the live recordings gone."""
    run_id = graded_run(web)
    root = web.settings.data_dir / "runs" / run_id
    started = next(e.at for e in web.portal.records.store.events(run_id))
    plant(root, started)
    recording.archive(root)
    shutil.rmtree(root / "recordings")
    return run_id


def test_the_run_page_shows_the_summary_signals_file_changes_and_recordings(web: Web) -> None:
    run_id = planted(web)
    page = web.assessor().get(f"/runs/{run_id}")
    assert page.status_code == 200, page.text
    assert "How the candidate worked" in page.text
    assert "6 commands · 1 cell execution · 2 files touched" in page.text
    assert "cat /grading/tests.py" in page.text and "looked for hidden material" in page.text
    assert "pastebin.com" in page.text and "mlflow:5000" not in page.text
    assert f'href="/runs/{run_id}/timeline/1"' in page.text
    assert "solution.py</code></td><td>created +100 -0" in page.text
    assert f'href="/runs/{run_id}/recordings/terminal-1-1"' in page.text


def test_each_recording_has_a_player_of_its_cast_with_the_moments_in_it_as_markers(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workprocess, "player_installed", lambda: True)
    run_id = planted(web)
    page = web.assessor().get(f"/runs/{run_id}").text
    assert '<script src="/static/player/asciinema-player.min.js" defer></script>' in page
    assert '<script src="/static/recordings.js" defer></script>' in page
    assert f'data-cast="/runs/{run_id}/recordings/{CAST}"' in page
    # the fake run is submitted as it starts: in the planted recording, which starts then
    found = re.search(r"data-markers='([^']*)'", page)
    assert found is not None
    [(played_s, what)] = json.loads(found.group(1))
    assert what == "submitted" and 0 <= played_s < 1
    assert 'data-seek-marker="0" data-testid="jump">submitted</button>' in page
    assert f'href="/runs/{run_id}/recordings/terminal-1-1"' in page  # the transcript remains


def test_without_the_player_installed_the_card_says_so_and_keeps_the_transcripts(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workprocess, "player_installed", lambda: False)
    run_id = planted(web)
    page = web.assessor().get(f"/runs/{run_id}").text
    assert "player is not installed (<code>infra/dev.sh</code> installs it)" in page
    assert "/static/player/" not in page and "data-cast" not in page
    assert f'href="/runs/{run_id}/recordings/terminal-1-1"' in page


def test_a_run_with_nothing_recorded_says_so_and_loads_no_player(web: Web) -> None:
    page = web.assessor().get(f"/runs/{graded_run(web)}")
    assert "No terminal was recorded." in page.text
    assert "No snapshot of the workspace was recorded." in page.text
    assert "/static/player/" not in page.text and "recordings.js" not in page.text


def test_a_run_whose_evidence_expired_says_when_and_after_how_many_days(web: Web) -> None:
    run_id = planted(web)
    later = utcnow() + timedelta(days=31)
    retention.expire(web.portal.records.store, web.settings.data_dir, 30, later)
    page = web.assessor().get(f"/runs/{run_id}").text
    assert (
        f"Recordings and timeline removed on {later:%Y-%m-%d} after 30 days "
        "(<code>PRODPROVEN_EVIDENCE_RETENTION_DAYS</code>)" in page
    )
    assert "No terminal was recorded." not in page and "Active time" not in page
    assert web.assessor().get(f"/runs/{run_id}/recordings/{CAST}").status_code == 404


def test_a_step_shows_its_unified_diff(web: Web) -> None:
    run_id = planted(web)
    page = web.assessor().get(f"/runs/{run_id}/timeline/2")
    assert page.status_code == 200
    assert "+++ b/train.py" in page.text and "\n+d" in page.text
    assert web.assessor().get(f"/runs/{run_id}/timeline/9").status_code == 404


def test_a_transcript_is_escaped_text_and_the_cast_downloads_as_recorded(web: Web) -> None:
    run_id = planted(web)
    browser = web.assessor()
    page = browser.get(f"/runs/{run_id}/recordings/terminal-1-1")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;red" in page.text
    assert "<script>alert" not in page.text
    cast = browser.get(f"/runs/{run_id}/recordings/{CAST}")
    assert cast.status_code == 200
    assert cast.headers["content-type"] == "application/octet-stream"
    assert "attachment" in cast.headers["content-disposition"]
    assert cast.content.startswith(b'{"version": 2')
    assert browser.get(f"/runs/{run_id}/recordings/terminal-9-9").status_code == 404


@pytest.mark.parametrize(
    "path", ["", "/timeline/0", "/recordings/terminal-1-1", f"/recordings/{CAST}"]
)
def test_another_firms_run_is_not_found_and_nobody_signed_in_is_sent_to_sign_in(
    web: Web, path: str
) -> None:
    run_id = planted(web)
    other = web.assessor("bob@globex.test", "globex")
    assert other.get(f"/runs/{run_id}{path}").status_code == 404
    anonymous = web.client().get(f"/runs/{run_id}{path}", follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
