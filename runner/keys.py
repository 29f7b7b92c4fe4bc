"""The installation's secret and the keys derived from it.

One secret per data directory (``<data_dir>/secret.key``, 32 random bytes, mode 0600) is made
on first use. Per-purpose keys are HMACs of it, so any process of this installation (a
restarted web server, the CLI) computes the same key again without storing it, and a key of
one purpose or subject says nothing about another.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from prodproven.runner.errors import ProdprovenError

SECRET_FILE = "secret.key"
SECRET_BYTES = 32


def instance_secret(data_dir: Path) -> bytes:
    """The installation's secret: read from ``<data_dir>/secret.key``, created (0600) when
    missing. Concurrent first calls agree on one secret. Raises ProdprovenError when the file
    is not a secret of the right size."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _create(path)
    data = path.read_bytes()
    if len(data) != SECRET_BYTES:
        raise ProdprovenError(
            f"{path} holds {len(data)} bytes, not a {SECRET_BYTES}-byte secret; "
            "remove it to make a new one (links derived from it stop working)"
        )
    return data


def _create(path: Path) -> None:
    """Write a fresh secret to a private temporary file, then link it into place: a reader
    never sees a partial file, and a second writer loses the race without harm."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(SECRET_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def derive(secret: bytes, purpose: str, subject: str) -> str:
    """A hex HMAC-SHA256 key of ``purpose`` NUL ``subject`` under ``secret``."""
    if "\0" in purpose:
        raise ValueError("a key's purpose cannot contain NUL")
    message = purpose.encode() + b"\0" + subject.encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
