"""Rendering a page, for every router."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page; every template gets ``request``, ``csrf`` (empty without a session)
    and ``user`` (the signed-in assessor, or None)."""
    context.setdefault("user", None)
    html = request.app.state.templates.get_template(template).render(
        request=request, csrf=context.pop("csrf", ""), **context
    )
    return HTMLResponse(html, status_code=status_code)
