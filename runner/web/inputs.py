"""What people type into the pages' forms and query strings, read at the edge: numbers finite
and within their range, file names safe in a header. A mistake is a 400 with a readable
message (UntrustedInput), never a 500."""

from __future__ import annotations

from urllib.parse import quote

from prodproven.sandbox.untrusted import UntrustedInput, finite


def optional_number(raw: str, *, what: str, low: float, high: float) -> float | None:
    """None for an empty field, else the number typed, finite and within [low, high]. Raises
    UntrustedInput."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UntrustedInput(f"{what} must be a number, not {text[:40]!r}") from None
    return finite(value, what=what, low=low, high=high)


def attachment(name: str) -> str:
    """A ``Content-Disposition`` value that downloads ``name`` as a file: an ASCII fallback
    and the name itself (RFC 6266 ``filename*``), so any name (quotes, an emoji) is safe."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
