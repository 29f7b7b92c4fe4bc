"""Scripts that run inside containers, not on the host: each is a file of this package, read
here and handed to a container's Python (``python3 -c SOURCE ARGS...``). They are checked by
ruff like the rest of the code but not by mypy, which never imports them."""

from importlib import resources


def script(name: str) -> str:
    """The source of the container-side script ``name`` (a file of this package)."""
    return resources.files(__name__).joinpath(name).read_text()
