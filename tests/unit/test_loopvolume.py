"""Size-limited workspace volumes: when they are made, how their loop devices follow a reboot,
and what removing them leaves (nothing). The tools (losetup, mkfs.ext4, debugfs) are faked; the
real ones are exercised by tests/integration/test_sandbox_abuse.py."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker.errors
import pytest

from prodproven.sandbox import loopvolume
from prodproven.sandbox.loopvolume import (
    LOCAL_ENGINE,
    LoopVolumes,
    ensure_volume,
    for_engine,
    unavailable_reason,
)


class Losetup:
    """Fakes the tools: loop devices as a map from image to device, and the commands run."""

    def __init__(self) -> None:
        self.attached: dict[str, str] = {}
        self.commands: list[list[str]] = []
        self.next_device = 0

    def __call__(self, argv: Sequence[str]) -> str:
        self.commands.append(list(argv))
        match list(argv):
            case ["losetup", "--associated", image]:
                device = self.attached.get(image)
                return f"{device}: [65024]:12 ({image})\n" if device else ""
            case ["losetup", "--find", "--show", image]:
                self.attached[image] = f"/dev/loop{self.next_device}"
                self.next_device += 1
                return self.attached[image] + "\n"
            case ["losetup", "--list", *_]:
                return "".join(
                    f"{d} {i.replace(' ', chr(92) + 'x20')}\n" for i, d in self.attached.items()
                )
            case ["losetup", "--detach", device]:
                self.attached = {i: d for i, d in self.attached.items() if d != device}
        return ""

    def reboot(self) -> None:
        """Every device detached; the next attach gets another number."""
        self.attached.clear()
        self.next_device += 3

    def ran(self, tool: str) -> int:
        return sum(1 for argv in self.commands if argv[0] == tool)


@pytest.fixture
def tools() -> Losetup:
    return Losetup()


@pytest.fixture
def loops(tmp_path: Path, tools: Losetup) -> LoopVolumes:
    return LoopVolumes(tmp_path / "volumes", 64, tool=tools)


def engine(url: str = LOCAL_ENGINE, root: str = "/var/lib/docker") -> Any:
    return SimpleNamespace(api=SimpleNamespace(base_url=url), info=lambda: {"DockerRootDir": root})


def test_a_size_of_0_means_plain_volumes_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert for_engine(engine(), 0) is None
    assert caplog.records == []


def test_a_remote_engine_falls_back_to_plain_volumes_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loopvolume, "_warned", set())
    with caplog.at_level(logging.WARNING):
        assert for_engine(engine("http://10.0.0.5:2375"), 64) is None
        assert for_engine(engine("http://10.0.0.5:2375"), 64) is None
    [warning] = caplog.records
    assert "PRODPROVEN_WORKSPACE_MB=64 is ignored" in warning.getMessage()
    assert "http://10.0.0.5:2375" in warning.getMessage()


def test_a_local_engine_with_root_and_the_tools_gets_loop_volumes_in_the_engines_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loopvolume, "unavailable_reason", lambda url, euid: None)
    made = for_engine(engine(root=str(tmp_path)), 64)
    assert made == LoopVolumes(tmp_path / "prodproven-volumes", 64)


@pytest.mark.parametrize(
    ("url", "euid", "missing", "reason"),
    [
        ("ssh://build-host", 0, (), "is not on this machine's socket"),
        (LOCAL_ENGINE, 1000, (), "does not run as root"),
        (LOCAL_ENGINE, 0, ("debugfs",), "debugfs not found"),
    ],
)
def test_the_machine_cannot_make_loop_volumes_and_says_why(
    url: str, euid: int, missing: tuple[str, ...], reason: str
) -> None:
    found = unavailable_reason(url, euid=euid, which=lambda t: None if t in missing else t)
    assert found is not None and reason in found
    assert unavailable_reason(LOCAL_ENGINE, euid=0, which=lambda t: t) is None


def test_a_new_volume_is_a_sparse_ext4_image_owned_by_the_candidate_behind_a_device_link(
    loops: LoopVolumes, tools: Losetup
) -> None:
    assert loops.options("pp-r1-workspace-workspace") == {
        "type": "ext4",
        "device": str(loops.link("pp-r1-workspace-workspace")),
    }
    image = loops.image("pp-r1-workspace-workspace")
    assert image.stat().st_size == 64 * 2**20
    assert image.stat().st_blocks * 512 < 2**20  # sparse
    [mkfs] = [argv for argv in tools.commands if argv[0] == "mkfs.ext4"]
    assert "root_owner=1000:1000" in mkfs[-2] and mkfs[2:4] == ["-m", "0"]
    assert tools.commands[-3][:4] == ["debugfs", "-w", "-R", "rmdir lost+found"]
    assert os.readlink(loops.link("pp-r1-workspace-workspace")) == "/dev/loop0"


def test_attaching_an_attached_volume_again_changes_nothing(
    loops: LoopVolumes, tools: Losetup
) -> None:
    loops.attach("pp-r1-workspace-workspace")
    loops.attach("pp-r1-workspace-workspace")
    assert tools.ran("mkfs.ext4") == 1
    assert [argv for argv in tools.commands if argv[1] == "--find"] == [
        ["losetup", "--find", "--show", str(loops.image("pp-r1-workspace-workspace"))]
    ]


def test_after_a_reboot_the_image_is_attached_again_and_the_link_follows_its_new_device(
    loops: LoopVolumes, tools: Losetup
) -> None:
    loops.attach("pp-r1-workspace-workspace")
    tools.reboot()
    loops.attach_all("pp-r1-workspace-")
    assert os.readlink(loops.link("pp-r1-workspace-workspace")) == "/dev/loop4"
    assert tools.ran("mkfs.ext4") == 1  # the files are in the image: it is never made again


def test_after_a_reboot_links_to_devices_of_other_images_are_deleted_before_any_use(
    tmp_path: Path, tools: Losetup
) -> None:
    loops = LoopVolumes(tmp_path / "data dir" / "volumes", 64, tool=tools)
    loops.attach("pp-r1-workspace-workspace")
    loops.attach("pp-r2-workspace-workspace")
    tools.reboot()
    loops.attach("pp-r2-workspace-workspace")  # now on /dev/loop5, r1's link says /dev/loop0
    tools.attached["/elsewhere.img"] = "/dev/loop0"
    loops.forget_stale()
    assert not loops.link("pp-r1-workspace-workspace").is_symlink()
    assert os.readlink(loops.link("pp-r2-workspace-workspace")) == "/dev/loop5"


def test_releasing_a_run_detaches_and_deletes_its_images_and_no_other_runs(
    loops: LoopVolumes, tools: Losetup
) -> None:
    for name in ("pp-r1-workspace-workspace", "pp-r1-evaluation-service", "pp-r2-workspace-x"):
        loops.attach(name)
    assert loops.run_ids() == {"r1", "r2"}
    assert loops.release("pp-r1-") == 2
    assert loops.names() == ["pp-r2-workspace-x"]
    assert list(tools.attached.values()) == ["/dev/loop2"]
    assert not loops.link("pp-r1-workspace-workspace").is_symlink()


class Volumes:
    def __init__(self, *existing: str) -> None:
        self.made: dict[str, dict[str, str]] = {name: {} for name in existing}

    def get(self, name: str) -> object:
        if name not in self.made:
            raise docker.errors.NotFound(f"volume {name}")
        return object()

    def create(self, name: str, driver_opts: dict[str, str], labels: dict[str, str]) -> None:
        self.made[name] = driver_opts


@pytest.mark.parametrize(
    ("path", "limited"), [("/workspace", True), ("/grading", False), ("/setup", False)]
)
def test_only_volumes_mounted_at_workspace_are_limited(
    loops: LoopVolumes, path: str, limited: bool
) -> None:
    client = SimpleNamespace(volumes=Volumes())
    ensure_volume(client, loops, "pp-r1-workspace-v", path, {})
    assert bool(client.volumes.made["pp-r1-workspace-v"]) is limited
    assert loops.names() == (["pp-r1-workspace-v"] if limited else [])


def test_without_loop_volumes_the_workspace_volume_is_a_plain_one() -> None:
    client = SimpleNamespace(volumes=Volumes())
    ensure_volume(client, None, "pp-r1-workspace-workspace", "/workspace", {})
    assert client.volumes.made == {"pp-r1-workspace-workspace": {}}


def test_an_existing_limited_volume_is_attached_again_before_a_container_mounts_it(
    loops: LoopVolumes, tools: Losetup
) -> None:
    client = SimpleNamespace(volumes=Volumes())
    ensure_volume(client, loops, "pp-r1-workspace-workspace", "/workspace", {})
    tools.reboot()
    ensure_volume(client, loops, "pp-r1-workspace-workspace", "/workspace", {})
    assert tools.attached == {str(loops.image("pp-r1-workspace-workspace")): "/dev/loop4"}


def test_an_existing_plain_volume_stays_plain_when_a_limit_is_set_later(
    loops: LoopVolumes, tools: Losetup
) -> None:
    client = SimpleNamespace(volumes=Volumes("pp-r1-workspace-workspace"))
    ensure_volume(client, loops, "pp-r1-workspace-workspace", "/workspace", {})
    assert loops.names() == [] and tools.commands == []
