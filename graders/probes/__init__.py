from importlib import resources


def probe(name: str) -> bytes:
    """The source of the probe script ``name`` (a file of this package), to copy into a pod."""
    return resources.files(__name__).joinpath(name).read_bytes()
