"""Reach a port inside a pod from the host's loopback, through the Docker API.

The pod has no network interface but loopback, so nothing on the host can connect to it by
address. Like ``kubectl port-forward``, each accepted TCP connection becomes an exec stream into
the pod's owner container, where a tiny pump copies bytes to ``127.0.0.1:PORT``. Each new
connection costs tens of milliseconds: right for a browser or a kernel, wrong for load testing
(load generators run as containers inside the pod instead).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Any

from prodproven.sandbox.scripts import script


class PortForward:
    """Listens on ``127.0.0.1`` and forwards each connection into a container's loopback."""

    def __init__(self, api: Any, container_id: str, inner_port: int, host_port: int = 0) -> None:
        self._api = api
        self._container_id = container_id
        self.inner_port = inner_port
        self._listener = socket.create_server(("127.0.0.1", host_port))
        self.host_port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            exec_id = self._api.exec_create(
                self._container_id,
                ["python3", "-c", script("pump.py"), str(self.inner_port)],
                stdin=True,
                tty=False,
            )["Id"]
            stream = self._api.exec_start(exec_id, socket=True)
        except Exception:  # the pod is gone: refuse this connection, keep listening
            client.close()
            return
        raw: socket.socket = getattr(stream, "_sock", stream)
        threading.Thread(target=_copy_in, args=(client, raw), daemon=True).start()
        _copy_out(raw, client)


def _copy_in(client: socket.socket, raw: socket.socket) -> None:
    try:
        while data := client.recv(65536):
            raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _copy_out(raw: socket.socket, client: socket.socket) -> None:
    """Unframe Docker's multiplexed stream (8-byte headers) and send stdout to the client."""
    try:
        while True:
            header = _read_exact(raw, 8)
            if header is None:
                break
            stream_type, size = header[0], struct.unpack(">I", header[4:])[0]
            payload = _read_exact(raw, size)
            if payload is None:
                break
            if stream_type == 1:
                client.sendall(payload)
    except OSError:
        pass
    finally:
        for sock in (client, raw):
            with contextlib.suppress(OSError):
                sock.close()


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        data = sock.recv(remaining)
        if not data:
            return None
        chunks.append(data)
        remaining -= len(data)
    return b"".join(chunks)
