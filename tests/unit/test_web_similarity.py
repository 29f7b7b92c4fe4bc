"""Similarity pages (runner/web/similarity.py): a challenge's flagged pairs, one run's, and a
pair's matching regions side by side, escaped. Firm isolation: an assessor compares only their
firm's runs, and another firm's pair answers 404 like any run of another firm."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from prodproven.runner.runs.store import Run
from prodproven.runner.web import similarity as web_similarity
from tests.unit.portalsupport import run_for
from tests.unit.similaritysupport import (
    FIRST,
    INDEPENDENT,
    RENAMED_AND_REORDERED,
    STARTER,
    graded_with,
    write_folder,
)
from tests.unit.websupport import Web, make_web

MARKUP = 'BANNER = "<script>alert(1)</script>"\n'


def planted(web: Web, tmp_path: Path) -> dict[str, Run]:
    """acme's two near-identical runs and its independent one; globex's copy of acme's first."""
    store = web.portal.records.store
    made = {}
    for name, firm, code in (
        ("first", "acme", FIRST + MARKUP),
        ("renamed", "acme", RENAMED_AND_REORDERED),
        ("independent", "acme", INDEPENDENT),
        ("elsewhere", "globex", FIRST),
    ):
        run = run_for(web.portal, firm, name.title(), challenge="slo-report")
        made[name] = graded_with(store, tmp_path, name, code, run=run)
    return made


def browser(web: Web, tmp_path: Path, email: str, firm: str) -> TestClient:
    """A signed-in assessor's browser, the starter given from a folder (no runner)."""
    client = web.assessor(email, firm)
    root = write_folder(tmp_path / "starter", STARTER)
    app = client.app
    assert isinstance(app, FastAPI)
    app.dependency_overrides[web_similarity.starter] = lambda: lambda run: (root,)
    return client


def test_an_assessor_sees_the_flagged_pairs_of_their_firms_runs_only(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    runs = planted(web, tmp_path)
    page = browser(web, tmp_path, "ada@acme.test", "acme").get("/challenges/slo-report/similarity")
    assert page.status_code == 200
    assert f'href="/similarity/{_pair(runs["first"], runs["renamed"])}"' in page.text
    assert runs["elsewhere"].id not in page.text and runs["independent"].id not in page.text
    assert page.text.count('href="/similarity/') == 1
    other = browser(web, tmp_path, "gil@globex.test", "globex")
    elsewhere = other.get("/challenges/slo-report/similarity")
    assert 'data-testid="no-similar-pairs"' in elsewhere.text
    assert runs["first"].id not in elsewhere.text
    assert web.portal.records.store.get(runs["first"].id).score == 50.0  # evidence, no penalty


def _pair(a: Run, b: Run) -> str:
    return "/".join(sorted((a.id, b.id)))


def test_another_firms_pair_answers_404(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    runs = planted(web, tmp_path)
    other = browser(web, tmp_path, "gil@globex.test", "globex")
    assert other.get(f"/similarity/{runs['first'].id}/{runs['renamed'].id}").status_code == 404
    ada = browser(web, tmp_path, "ada@acme.test", "acme")
    assert ada.get(f"/similarity/{runs['first'].id}/{runs['elsewhere'].id}").status_code == 404
    only = f"/challenges/slo-report/similarity?run={runs['elsewhere'].id}"
    assert ada.get(only).status_code == 404


def test_the_pair_page_shows_the_matching_regions_side_by_side_escaped(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    runs = planted(web, tmp_path)
    ada = browser(web, tmp_path, "ada@acme.test", "acme")
    page = ada.get(f"/similarity/{runs['first'].id}/{runs['renamed'].id}")
    assert page.status_code == 200
    assert 'data-testid="pair-score"' in page.text
    assert page.text.count("<code>solution.py</code>") == 2
    assert '<span class="hit"><span class="ln">6</span>def load_rows(path):' in page.text
    assert '<span class=""><span class="ln">1</span>import csv' in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text


def similar_card(page: str) -> str:
    """The run page's "Similar submissions" card."""
    start = page.index('<section class="card" id="similar"')
    return page[start : page.index("</section>", start)]


def test_each_run_page_of_the_pair_lists_the_other_with_its_score_and_regions(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path)
    runs = planted(web, tmp_path)
    ada = browser(web, tmp_path, "ada@acme.test", "acme")
    for mine, other in (("first", "renamed"), ("renamed", "first")):
        page = ada.get(f"/runs/{runs[mine].id}")
        assert page.status_code == 200
        card = similar_card(page.text)
        assert f'href="/similarity/{runs[mine].id}/{runs[other].id}"' in card
        assert f"<td>{other.title()}</td>" in card
        assert card.count("<tr><td>") == 1
        assert runs["independent"].id not in card and runs["elsewhere"].id not in card


def test_the_independent_runs_page_lists_none_above_the_threshold(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    runs = planted(web, tmp_path)
    ada = browser(web, tmp_path, "ada@acme.test", "acme")
    card = similar_card(ada.get(f"/runs/{runs['independent'].id}").text)
    assert 'data-testid="no-similar-runs">None above the threshold (0.5).' in card
    assert "/similarity/" not in card.replace("/challenges/slo-report/similarity", "")


def test_another_firms_assessor_sees_neither_run_of_the_pair(tmp_path: Path) -> None:
    """globex's run is a copy of acme's first, yet globex compares it with its own runs only."""
    web = make_web(tmp_path)
    runs = planted(web, tmp_path)
    gil = browser(web, tmp_path, "gil@globex.test", "globex")
    assert gil.get(f"/runs/{runs['first'].id}").status_code == 404
    assert gil.get(f"/runs/{runs['renamed'].id}").status_code == 404
    card = similar_card(gil.get(f"/runs/{runs['elsewhere'].id}").text)
    assert 'data-testid="no-similar-runs"' in card
    assert runs["first"].id not in card and runs["renamed"].id not in card


def test_a_run_not_compared_says_why(tmp_path: Path) -> None:
    """Not graded yet, or its fingerprints could not be made: the card says so, and the
    challenge view asked for that run answers 409 with the same reason."""
    web = make_web(tmp_path)
    runs = planted(web, tmp_path)
    running = run_for(web.portal, "acme", "Ines", challenge="slo-report")
    ada = browser(web, tmp_path, "ada@acme.test", "acme")
    card = similar_card(ada.get(f"/runs/{running.id}").text)
    assert f"Not compared: run {running.id} is running, not graded: only graded submissions" in card
    only = ada.get(f"/challenges/slo-report/similarity?run={running.id}")
    assert only.status_code == 409 and "only graded submissions are compared" in only.text
    broken = runs["independent"]  # its archive lost before it was ever compared
    assert broken.archive_path is not None
    Path(broken.archive_path).unlink()
    card = similar_card(ada.get(f"/runs/{broken.id}").text)
    assert f"Not compared: the fingerprints of run {broken.id} could not be made" in card


def test_the_run_pages_card_links_to_the_challenges_flagged_pairs(tmp_path: Path) -> None:
    web = make_web(tmp_path)
    runs = planted(web, tmp_path)
    ada = browser(web, tmp_path, "ada@acme.test", "acme")
    page = ada.get(f"/runs/{runs['renamed'].id}")
    link = 'href="/challenges/slo-report/similarity" data-testid="similar-link"'
    assert link in similar_card(page.text)
    one = ada.get(f"/challenges/slo-report/similarity?run={runs['renamed'].id}")
    assert f'href="/similarity/{runs["renamed"].id}/{runs["first"].id}"' in one.text
