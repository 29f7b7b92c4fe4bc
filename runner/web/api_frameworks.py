"""The JSON API's competency frameworks and role profiles, ``/api/frameworks`` and
``/api/role-profiles`` (docs/teams.md#frameworks-and-role-profiles), with the rules of the rest
of the API (runner/web/api.py): a bearer token, ``read`` to read, ``review`` to change, and
only the token's firm's, another firm's being "not found"."""

from __future__ import annotations

from fastapi import APIRouter, Response

from prodproven.runner.spec.framework import Framework, FrameworkError, RoleProfile
from prodproven.runner.web.api import Caller, ThePortal

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/frameworks")
def frameworks(actor: Caller, the_portal: ThePortal) -> list[Framework]:
    """The built-in framework first, then the firm's own by id."""
    return the_portal.frameworks.frameworks(actor)


@router.get("/frameworks/{framework_id}")
def framework(framework_id: str, actor: Caller, the_portal: ThePortal) -> Framework:
    return the_portal.frameworks.framework(actor, framework_id)


@router.put("/frameworks/{framework_id}")
def put_framework(
    framework_id: str, body: Framework, actor: Caller, the_portal: ThePortal
) -> Framework:
    """Add or replace the firm's framework of that id (not ``builtin``)."""
    _same(framework_id, body.id, "id")
    return the_portal.frameworks.save_framework(actor, body)


@router.delete("/frameworks/{framework_id}", status_code=204)
def delete_framework(framework_id: str, actor: Caller, the_portal: ThePortal) -> Response:
    """Refused while a role profile uses it."""
    the_portal.frameworks.delete_framework(actor, framework_id)
    return Response(status_code=204)


@router.get("/role-profiles")
def profiles(actor: Caller, the_portal: ThePortal) -> list[RoleProfile]:
    """The firm's role profiles by name."""
    return the_portal.frameworks.profiles(actor)


@router.get("/role-profiles/{name}")
def profile(name: str, actor: Caller, the_portal: ThePortal) -> RoleProfile:
    return the_portal.frameworks.profile(actor, name)


@router.put("/role-profiles/{name}")
def put_profile(name: str, body: RoleProfile, actor: Caller, the_portal: ThePortal) -> RoleProfile:
    """Add or replace the firm's role profile of that name."""
    _same(name, body.name, "name")
    return the_portal.frameworks.save_profile(actor, body)


@router.delete("/role-profiles/{name}", status_code=204)
def delete_profile(name: str, actor: Caller, the_portal: ThePortal) -> Response:
    the_portal.frameworks.delete_profile(actor, name)
    return Response(status_code=204)


def _same(in_path: str, in_body: str, field: str) -> None:
    if in_path != in_body:
        raise FrameworkError(f"the body's {field} {in_body!r} is not the path's {in_path!r}")
