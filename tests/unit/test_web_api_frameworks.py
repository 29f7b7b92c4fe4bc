"""The API's frameworks and role profiles (runner/web/api_frameworks.py): in /openapi.json,
read with ``read``, changed with ``review``, and a token sees and changes only its own firm's:
another firm's role profile is "not found"."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute

from prodproven.runner.web import api_frameworks
from tests.unit.test_framework import framework_doc
from tests.unit.websupport import Web, make_web

NAME = "ML engineer II"
ML2 = {"name": NAME, "requires": {"deployment": 3, "ai_judgment": 2}}
ML2_PATH = f"/api/role-profiles/{quote(NAME)}"


@pytest.fixture
def web(tmp_path: Path) -> Web:
    return make_web(tmp_path)


def test_the_routes_are_in_the_openapi_document(web: Web) -> None:
    paths = web.client().get("/openapi.json").json()["paths"]
    assert set(paths["/api/frameworks/{framework_id}"]) == {"get", "put", "delete"}
    assert set(paths["/api/role-profiles/{name}"]) == {"get", "put", "delete"}
    assert "get" in paths["/api/frameworks"] and "get" in paths["/api/role-profiles"]


def test_an_assessor_writes_and_reads_back_a_role_profile(web: Web) -> None:
    ada = web.api()
    put = ada.put(ML2_PATH, json=ML2)
    assert put.status_code == 200, put.text
    assert ada.get(ML2_PATH).json() == {**ML2, "framework": "builtin", "description": ""}
    assert [p["name"] for p in ada.get("/api/role-profiles").json()] == [NAME]
    assert ada.delete(ML2_PATH).status_code == 204
    assert ada.get(ML2_PATH).status_code == 404


def test_a_firms_framework_and_the_builtin_one_are_listed(web: Web) -> None:
    ada = web.api()
    assert ada.put("/api/frameworks/acme", json=framework_doc()).status_code == 200
    assert [f["id"] for f in ada.get("/api/frameworks").json()] == ["builtin", "acme"]
    builtin = ada.get("/api/frameworks/builtin").json()
    assert [c["id"] for c in builtin["competencies"]][0] == "deployment"


def test_another_firms_token_neither_sees_nor_changes_them(web: Web) -> None:
    ada = web.api()
    ada.put(ML2_PATH, json=ML2)
    ada.put("/api/frameworks/acme", json=framework_doc())
    bob = web.api("bob@other.test", firm="other")
    assert bob.get("/api/role-profiles").json() == []
    assert bob.get(ML2_PATH).status_code == 404
    assert bob.delete(ML2_PATH).status_code == 404
    assert bob.get("/api/frameworks/acme").status_code == 404
    assert bob.delete("/api/frameworks/acme").status_code == 404
    assert [f["id"] for f in bob.get("/api/frameworks").json()] == ["builtin"]
    changed = {**ML2, "requires": {"deployment": 1}}
    assert bob.put(ML2_PATH, json=changed).status_code == 200  # bob's own, of the same name
    assert ada.get(ML2_PATH).json()["requires"] == ML2["requires"]


def test_reading_needs_read_and_changing_needs_review(web: Web) -> None:
    reader = web.api("reader@acme.test", "read")
    answer = reader.put(ML2_PATH, json=ML2)
    assert answer.status_code == 403 and "'review'" in answer.json()["detail"]
    assert reader.get("/api/role-profiles").status_code == 200
    inviter = web.api("inviter@acme.test", "invite")
    assert inviter.get("/api/frameworks").status_code == 403
    assert web.client().get("/api/role-profiles").status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        (ML2_PATH, {**ML2, "requires": {"deployment": 9}}, 422, None),
        (ML2_PATH, {**ML2, "requires": {"charisma": 2}}, 400, "no competency 'charisma'"),
        ("/api/role-profiles/other", ML2, 400, "is not the path's 'other'"),
        ("/api/frameworks/builtin", {**framework_doc(), "id": "builtin"}, 400, "built-in"),
        ("/api/frameworks/acme", {**framework_doc(), "colour": "red"}, 422, None),
    ],
)
def test_a_body_that_cannot_be_saved_is_refused_saying_why(
    web: Web, path: str, body: dict[str, object], status: int, detail: str | None
) -> None:
    answer = web.api().put(path, json=body)
    assert answer.status_code == status, answer.text
    if detail is not None:
        assert detail in answer.json()["detail"]
    assert web.api().get("/api/role-profiles").json() == []


def test_every_route_is_documented_in_web_md() -> None:
    document = (Path(__file__).parents[2] / "docs" / "web.md").read_text()
    for route in api_frameworks.router.routes:
        assert isinstance(route, APIRoute) and route.methods is not None
        for method in route.methods:
            assert f"`{method} {route.path}`" in document
