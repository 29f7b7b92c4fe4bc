"""Scripts that run inside containers are files shipped as package data
(``prodproven.sandbox.scripts``, ``prodproven.graders.probes``): the host reads them by name and
hands them to a container's Python."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from prodproven.graders.probes import probe
from prodproven.sandbox.scripts import script

SANDBOX_SCRIPTS = (
    "lab_launcher.py",
    "prober.py",
    "pump.py",
    "wait_http.py",
    "wait_tcp.py",
    "warm_setup.py",
)
PROBES = (
    "cheat_hidden_cell.py",
    "cheat_network_cell.py",
    "cheat_server.py",
    "freshness_probe.py",
    "http_client.py",
    "launch_locustfile.py",
    "locustfile.py",
    "search_client.py",
)
WAIT_TIMEOUT_S = 30
"""Upper bound for running a wait script on the host in these tests."""


@pytest.mark.parametrize("name", SANDBOX_SCRIPTS)
def test_a_sandbox_script_is_read_by_name_as_python_source(name: str) -> None:
    source = script(name)
    assert source == resources.files("prodproven.sandbox.scripts").joinpath(name).read_text()
    compile(source, name, "exec")


@pytest.mark.parametrize("name", PROBES)
def test_a_probe_script_is_read_by_name_as_python_source(name: str) -> None:
    compile(probe(name), name, "exec")


def test_the_inflate_cheat_is_a_bash_script() -> None:
    assert probe("cheat_inflate.sh").startswith(b"#!/usr/bin/env bash\n")


def wait_tcp(port: int, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script("wait_tcp.py"), str(port), str(timeout_s)],
        capture_output=True,
        text=True,
        timeout=WAIT_TIMEOUT_S,
    )


def test_waiting_for_a_listening_port_prints_how_long_it_took() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        waited = wait_tcp(listener.getsockname()[1], 5)
    assert waited.returncode == 0
    assert 0 <= float(waited.stdout) < 5


def test_waiting_for_a_closed_port_gives_up_with_exit_3() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    assert wait_tcp(port, 0.3).returncode == 3


def test_a_warm_setup_imports_first_then_runs_the_script_once_its_files_arrive(
    tmp_path: Path,
) -> None:
    config = {
        "script": str(tmp_path / "seed.py"),
        "imports": ["json", "no_such_module_here"],
        "go": str(tmp_path / "go"),
        "state": str(tmp_path / "state"),
        "timeout": WAIT_TIMEOUT_S,
    }
    run = [sys.executable, "-c", script("warm_setup.py")]
    serving = subprocess.Popen([*run, "serve", json.dumps(config)])
    try:
        subprocess.run([*run, "warm", json.dumps(config)], check=True, timeout=WAIT_TIMEOUT_S)
        assert not (tmp_path / "state" / "out").exists()  # nothing ran before the files came
        (tmp_path / "seed.py").write_text(
            "import sys\nprint('seeded', 'json' in sys.modules)\nsys.exit(3)\n"
        )
        (tmp_path / "go").touch()
        done = subprocess.run(
            [*run, "wait", json.dumps(config)], capture_output=True, text=True, timeout=30
        )
    finally:
        serving.kill()
    assert (done.returncode, done.stdout) == (3, "seeded True\n")
