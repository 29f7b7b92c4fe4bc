"""Rendering a page and setting a cookie, for every router."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page; every template gets ``request``, ``csrf`` (empty without a session)
    and ``user`` (the signed-in assessor, or None)."""
    context.setdefault("user", None)
    html = request.app.state.templates.get_template(template).render(
        request=request, csrf=context.pop("csrf", ""), **context
    )
    return HTMLResponse(html, status_code=status_code)


def set_cookie(request: Request, response: Response, name: str, value: str, **options: Any) -> None:
    """Set an ``HttpOnly`` cookie, ``Secure`` whenever the app is reached over TLS: its public
    URL (``PRODPROVEN_PUBLIC_URL``) is https, or this request came over https (a server that
    terminates TLS itself, or ``X-Forwarded-Proto`` from one of ``PRODPROVEN_TRUSTED_PROXIES``,
    which uvicorn turns into the request's scheme; nobody else's is believed)."""
    secure = request.app.state.portal.settings.base_url.startswith("https://")
    options.setdefault("samesite", "lax")
    response.set_cookie(
        name, value, httponly=True, secure=secure or request.url.scheme == "https", **options
    )
