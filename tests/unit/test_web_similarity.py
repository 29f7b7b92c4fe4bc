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


def test_the_run_page_links_to_its_similar_submissions_which_list_its_pairs(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path)
    runs = planted(web, tmp_path)
    ada = browser(web, tmp_path, "ada@acme.test", "acme")
    run_page = ada.get(f"/runs/{runs['renamed'].id}")
    link = f"/challenges/slo-report/similarity?run={runs['renamed'].id}"
    assert f'href="{link}" data-testid="similar-link"' in run_page.text
    listed = ada.get(link)
    assert f'href="/similarity/{runs["renamed"].id}/{runs["first"].id}"' in listed.text
    alone = ada.get(f"/challenges/slo-report/similarity?run={runs['independent'].id}")
    assert 'data-testid="no-similar-pairs"' in alone.text
