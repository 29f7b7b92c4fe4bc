"""Errors raised by the sandbox layer.

The whole exception tree of prodproven is documented in :mod:`runner.errors`; the root class
lives here, in the lowest layer, so that every package can subclass it.
"""

from __future__ import annotations


class ProdprovenError(Exception):
    """Root of every error prodproven raises on purpose; the CLI prints its message."""


class SandboxError(ProdprovenError):
    """Something about containers, images or the engine went wrong."""


class DockerUnavailable(SandboxError):
    """The Docker engine does not answer."""


class ImageError(SandboxError):
    """An image is missing, or building one failed."""


class ContainerError(SandboxError):
    """A container could not be created, started, copied to or from."""


class ExecTimeout(SandboxError):
    """A command run inside a container did not finish in time."""


class CommandTimeout(SandboxError):
    """A command run on the host (an image build step, the docker CLI) did not finish in time."""


class ServiceNotReady(SandboxError):
    """A service in a run did not answer its health check in time."""
