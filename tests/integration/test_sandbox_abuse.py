"""A hostile or careless candidate against the real engine: every container of a run is held
by its limits, the abuse stays inside the run, and the run can still be submitted and graded.
Also what the operator's side can break: a full data directory at submit, a restarted engine.

Each test starts a run of a trimmed deploy-model (one quick grader, small limits), abuses it
from the candidate's side, then submits and grades it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from prodproven.runner import plugins
from prodproven.runner.config import Settings
from prodproven.runner.lifecycle.core import Runner
from prodproven.runner.runs.archives import DataDirFull
from prodproven.runner.runs.store import Run, Status
from prodproven.runner.spec.challenge import Challenge, load_challenge
from prodproven.sandbox.docker_backend import LOG_MAX_FILES, LOG_MAX_SIZE
from prodproven.sandbox.environment import RUN_LABEL, Sandbox
from prodproven.sandbox.images import ImageBuilder
from tests.conftest import REPO_ROOT, MakeChallenge
from tests.integration.conftest import runner_for

pytestmark = pytest.mark.docker

MIB = 2**20
PIDS = 64
MEMORY = "512m"
Started = Callable[[Runner], tuple[Run, Sandbox]]


@pytest.fixture
def small_challenge(make_challenge: MakeChallenge) -> Challenge:
    """deploy-model with its correctness grader only (5 requests) and small limits."""

    def change(spec: dict[str, Any]) -> None:
        spec.update(graders=spec["graders"][:1], requirements=spec["requirements"][:1])
        spec["graders"][0]["params"]["single_requests"] = 5
        spec["resources"] = {"memory": MEMORY, "cpus": 1.0, "pids": PIDS}

    return load_challenge(make_challenge(change), plugins.catalog())


@pytest.fixture
def started(small_challenge: Challenge) -> Iterator[Started]:
    """Starts a scripted run of the small challenge on a runner; removes what is left after."""
    begun: list[tuple[Runner, str]] = []

    def start(runner: Runner) -> tuple[Run, Sandbox]:
        run = runner.start(small_challenge, "ada", mode="scripted")
        begun.append((runner, run.id))
        return run, runner.workspace(run.id)[1]

    yield start
    for runner, run_id in begun:
        runner.backend.remove_run(run_id)


def graded(runner: Runner, run_id: str) -> Run:
    runner.submit(run_id)
    run = runner.grade(run_id)
    assert run.status is Status.graded, run.error
    return run


def sh(box: Sandbox, script: str, timeout: float = 60) -> str:
    result = box.exec(["bash", "-c", script], timeout=timeout)
    return f"{result.exit_code}:{result.stdout}{result.stderr}"


def run_containers(docker_client: Any, run_id: str) -> list[Any]:
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    return list(docker_client.containers.list(all=True, filters=selector))


def test_every_container_of_a_run_has_memory_cpu_and_pid_limits_and_a_capped_log(
    runner: Runner, started: Started, docker_client: Any
) -> None:
    run, _ = started(runner)
    containers = run_containers(docker_client, run.id)
    assert {c.labels["prodproven.role"] for c in containers} >= {"pod", "workspace"}
    for container in containers:
        host = container.attrs["HostConfig"]
        assert host["Memory"] > 0 and host["PidsLimit"] > 0, container.name
        assert host["NanoCpus"] > 0 or host["CpuQuota"] > 0, container.name
        assert host["LogConfig"] == {
            "Type": "json-file",
            "Config": {"max-size": LOG_MAX_SIZE, "max-file": str(LOG_MAX_FILES)},
        }, container.name


def test_a_fork_bomb_is_held_by_the_pid_limit_and_the_run_is_still_graded(
    runner: Runner, started: Started, docker_client: Any
) -> None:
    run, workspace = started(runner)
    bomb = "bomb() { bomb | bomb & }; bomb; sleep 5"
    with contextlib.suppress(Exception):  # the bomb's own shell may be refused a process
        workspace.exec(["bash", "-c", bomb], timeout=8)
    box = docker_client.containers.get(workspace.name)
    assert box.stats(stream=False)["pids_stats"]["current"] <= PIDS
    # The host and the pod's other container still start processes.
    assert subprocess.run(["true"], check=False).returncode == 0
    owner = docker_client.containers.get(f"pp-{run.id}-workspace-pod")
    assert owner.exec_run(["true"]).exit_code == 0
    graded(runner, run.id)


def test_a_memory_bomb_is_killed_inside_the_container_and_the_run_is_still_graded(
    runner: Runner, started: Started
) -> None:
    run, workspace = started(runner)
    out = sh(workspace, "python3 -c 'a = []\nwhile True: a.append(bytearray(64 << 20))'")
    assert out.startswith("137:"), out  # SIGKILL from the container's OOM killer
    assert workspace.state() == "running" and workspace.exec(["true"], timeout=20).ok
    graded(runner, run.id)


@pytest.mark.timing
@pytest.mark.skipif(
    os.environ.get("PRODPROVEN_SLOW_ABUSE") != "1",
    reason="minutes on a disk mounted with discard (the volumes' deletion): run it with "
    "PRODPROVEN_SLOW_ABUSE=1",
)
def test_100000_small_files_are_archived_within_time_and_graded(
    runner: Runner, started: Started
) -> None:
    run, workspace = started(runner)
    made = "import os\nos.mkdir('many')\nfor i in range(100000): open(f'many/{i}', 'w').write('x')"
    assert sh(workspace, f'cd /workspace && python3 -c "{made}"', timeout=120) == "0:"
    began = time.monotonic()
    submitted = runner.submit(run.id)
    took = time.monotonic() - began
    print(f"submit of a workspace with 100,000 small files: {took:.1f} s")
    assert took < 90
    events = [e for e in runner.store.events(run.id) if e.kind == "archive.written"]
    assert events and submitted.archive_path
    assert runner.grade(run.id).status is Status.graded


def test_a_2gb_file_at_submit_is_left_out_by_the_archive_cap_with_a_finding_and_graded(
    runner: Runner, started: Started
) -> None:
    run, workspace = started(runner)
    assert sh(workspace, "truncate -s 2G /workspace/huge.bin && echo notes > NOTES.md") == "0:"
    graded(runner, run.id)
    [finding] = [e.data for e in runner.store.events(run.id) if e.kind == "archive.left_out"]
    assert finding["files"] == [{"path": "huge.bin", "bytes": 2 * 2**30}]
    cap = runner.settings.max_archive_mb
    assert (
        "huge.bin (2048.0 MiB)" in finding["message"] and f"cap of {cap} MiB" in finding["message"]
    )


LIMITED_MIB = 128
"""Room for deploy-model's starter (its model is 71 MiB) and 40 MiB more."""


@pytest.fixture
def limited(
    images: ImageBuilder, runtime_image: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Runner:
    """A runner whose /workspace volumes are loop volumes of LIMITED_MIB."""
    monkeypatch.setenv("PRODPROVEN_WORKSPACE_MB", str(LIMITED_MIB))
    return runner_for(Settings.from_env(data_dir=data_dir), images, runtime_image)


def loop_folder(docker_client: Any) -> Path:
    return Path(docker_client.info()["DockerRootDir"]) / "prodproven-volumes"


def test_a_workspace_filled_to_its_limit_gets_no_space_and_the_run_is_still_graded(
    limited: Runner, started: Started, docker_client: Any
) -> None:
    runner = limited
    run, workspace = started(runner)
    size = sh(workspace, "df --block-size=1M --output=size /workspace | tail -1")
    assert size.startswith("0:") and LIMITED_MIB - 16 <= int(size[2:]) <= LIMITED_MIB, size
    filled = sh(workspace, "echo notes > NOTES.md; dd if=/dev/zero of=fill bs=1M", timeout=120)
    assert "No space left on device" in filled
    archive = graded(runner, run.id).archive_path
    assert archive is not None
    with tarfile.open(archive) as tar:
        sizes = {Path(m.name).name: m.size for m in tar.getmembers()}
    # The files that fit: the starter files (a 71 MiB model), the notes and most of the fill;
    # the rest is ext4's own and the 5% it keeps for root (the candidate is not root).
    assert sizes["NOTES.md"] == 6 and sizes["fill"] > 30 * MIB
    assert (LIMITED_MIB - 24) * MIB < sum(sizes.values()) < LIMITED_MIB * MIB
    runner.backend.remove_run(run.id)
    assert sorted(loop_folder(docker_client).glob(f"pp-{run.id}-*")) == []


def losetup(*args: str) -> str:
    return subprocess.run(["losetup", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.machine_wide  # a run starting beside it could take the freed loop device
def test_a_limited_workspace_whose_loop_device_went_is_attached_again_and_graded(
    limited: Runner, started: Started, docker_client: Any, tmp_path: Path
) -> None:
    """As after a reboot: the device is gone and its number is another image's meanwhile."""
    runner = limited
    run, workspace = started(runner)
    assert sh(workspace, "echo kept > NOTES.md") == "0:"
    for container in run_containers(docker_client, run.id):
        container.stop(timeout=1)
    image = loop_folder(docker_client) / f"pp-{run.id}-workspace-workspace.img"
    [device] = [line.split(":")[0] for line in losetup("--associated", str(image)).splitlines()]
    losetup("--detach", device)
    decoy = tmp_path / "decoy.img"
    decoy.write_bytes(b"\0" * MIB)
    taken = losetup("--find", "--show", str(decoy)).strip()
    try:
        archive = graded(runner, run.id).archive_path
    finally:
        losetup("--detach", taken)
    assert archive is not None and taken == device
    with tarfile.open(archive) as tar:
        [notes] = [m for m in tar.getmembers() if m.name.endswith("NOTES.md")]
        kept = tar.extractfile(notes)
        assert kept is not None and kept.read() == b"kept\n"


FLOODING_START = """cat > /workspace/start.sh <<'EOF'
cd /workspace
yes "$(printf 'x%.0s' $(seq 400))" &
sleep 8
exec python -m flask --app app run --host 0.0.0.0 --port 8000
EOF"""
"""A start.sh whose service floods its output before (and while) it serves."""


class LogWatch:
    """Records the largest total size of a run's evaluation service's log files."""

    def __init__(self, docker_client: Any, run_id: str) -> None:
        self.largest = 0
        self._client = docker_client
        self._run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.3):
            # Containers come and go while it looks: one gone in between is skipped.
            with contextlib.suppress(docker.errors.NotFound, OSError):
                for container in run_containers(self._client, self._run_id):
                    if container.labels.get("prodproven.role") == "service":
                        log = Path(container.attrs["LogPath"])
                        size = sum(p.stat().st_size for p in log.parent.glob(f"{log.name}*"))
                        self.largest = max(self.largest, size)

    @contextlib.contextmanager
    def watching(self) -> Iterator[LogWatch]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def test_a_service_flooding_its_log_is_capped_by_rotation_and_the_run_is_still_graded(
    runner: Runner, started: Started, docker_client: Any
) -> None:
    run, workspace = started(runner)
    assert sh(workspace, FLOODING_START) == "0:"
    runner.submit(run.id)
    with LogWatch(docker_client, run.id).watching() as watch:
        assert runner.grade(run.id).status is Status.graded
    cap = LOG_MAX_FILES * int(LOG_MAX_SIZE.removesuffix("m")) * MIB
    print(f"largest log of the flooding service: {watch.largest / MIB:.1f} MiB (cap {cap / MIB})")
    assert int(LOG_MAX_SIZE.removesuffix("m")) * MIB < watch.largest <= cap + MIB


@pytest.fixture
def small_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A 96 MiB tmpfs as the data directory (skipped where mounting is not allowed)."""
    mount = tmp_path / "small-data"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs data directory here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_data_directory_at_submit_keeps_the_run_submitted_until_space_returns(
    small_data_dir: Path, images: ImageBuilder, runtime_image: str, started: Started
) -> None:
    runner = runner_for(Settings.from_env(data_dir=small_data_dir), images, runtime_image)
    run, workspace = started(runner)
    assert sh(workspace, "head -c 120M /dev/urandom > /workspace/data.bin") == "0:"
    with pytest.raises(DataDirFull) as full:
        runner.submit(run.id)
    assert str(small_data_dir) in str(full.value) and "needs up to" in str(full.value)
    after = runner.store.get(run.id)
    assert after.status is Status.submitted and after.archive_path is None
    assert sorted(p.name for p in runner.paths(run.id).root.glob("workspace.*")) == []
    assert runner.backend.attach_pod(run.id, "workspace") is not None  # nothing removed yet
    subprocess.run(["mount", "-o", "remount,size=512m", str(small_data_dir)], check=True)
    assert graded(runner, run.id).archive_path


@pytest.mark.engine_restart
@pytest.mark.skipif(
    os.environ.get("PRODPROVEN_CHAOS_ENGINE") != "1",
    reason="restarts the Docker engine: run alone, with PRODPROVEN_CHAOS_ENGINE=1",
)
def test_a_run_whose_engine_restarted_mid_run_is_still_submitted_and_graded(
    runner: Runner, started: Started, docker_client: Any
) -> None:
    run, workspace = started(runner)
    sh(workspace, "echo before the restart > /workspace/NOTES.md")
    pid = int(Path("/var/run/docker.pid").read_text())
    os.kill(pid, 15)
    with contextlib.suppress(ProcessLookupError):
        for _ in range(60):
            os.kill(pid, 0)
            time.sleep(0.5)
    subprocess.run(["bash", str(REPO_ROOT / "infra" / "docker-engine.sh")], check=True)
    # Without restart policies the run's containers stopped with the engine.
    assert all(c.status != "running" for c in run_containers(docker_client, run.id))
    archive = graded(runner, run.id).archive_path
    assert archive is not None
    with tarfile.open(archive) as tar:
        notes = [m for m in tar.getmembers() if m.name.endswith("NOTES.md")]
        kept = tar.extractfile(notes[0])
        assert kept is not None and kept.read() == b"before the restart\n"
