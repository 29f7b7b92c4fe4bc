"""Every command teaches with --help, and every bad input is one message at the CLI's edge:
exit 1 (refused) or 2 (usage), never 70 (an internal error), never a traceback. The commands
run in this process through ``main``, as the ``prodproven`` command runs them."""

from __future__ import annotations

import importlib.abc
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path

import click
import pytest
import requests

from prodproven.runner import logs
from prodproven.runner.cli import entry
from prodproven.runner.cli.context import Context
from prodproven.runner.cli.main import cli, main

INTERNAL_ERROR = 70


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    def says(self, text: str) -> bool:
        """Whether stderr holds ``text``, wherever the console wrapped its lines."""
        return "".join(text.split()) in "".join(self.stderr.split())


Prodproven = Callable[..., Outcome]


@pytest.fixture
def prodproven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Prodproven]:
    """``prodproven ARGS`` in this process, with a data directory of its own."""
    monkeypatch.setenv("PRODPROVEN_DATA_DIR", str(tmp_path / "data"))

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        with pytest.raises(SystemExit) as ended:
            main([*args])
            sys.exit(0)
        caught = capsys.readouterr()
        code = ended.value.code
        return Outcome(code if isinstance(code, int) else 1, caught.out, caught.err)

    yield run
    logger = logging.getLogger(logs.ROOT_LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, RotatingFileHandler)]:
        logger.removeHandler(handler)
        handler.close()


def every_command(group: click.Group = cli, path: Sequence[str] = ()) -> Iterator[list[str]]:
    for name, command in sorted(group.commands.items()):
        yield [*path, name]
        if isinstance(command, click.Group):
            yield from every_command(command, [*path, name])


@pytest.mark.parametrize("command", [" ".join(c) for c in every_command()])
def test_every_command_has_help(prodproven: Prodproven, command: str) -> None:
    shown = prodproven(*command.split(), "--help")
    assert shown.code == 0 and "Usage: prodproven" in shown.stdout


def one_paragraph(outcome: Outcome) -> None:
    """Refused as a person would want: one message, not an internal error."""
    assert outcome.code in (1, 2), outcome
    assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr
    assert outcome.stderr.strip() and "\n\n\n" not in outcome.stderr


BadInput = Callable[[Path], list[str]]


def made(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(content)
        return folder / name

    return make


deep_json = made("deep.json", b"[" * 50_000 + b"]" * 50_000)
binary = made("binary.json", bytes(range(256)) * 8)
huge_json = made("huge.json", b'{"a": "' + b"x" * (2 << 20) + b'"}')
nan_json = made("nan.json", b'{"a": NaN}')


def nowhere(folder: Path) -> str:
    """A file in a folder that does not exist."""
    return str(folder / "no-such-folder" / "out.file")


def invite(*extra: str) -> list[str]:
    """An invitation to deploy-model with ``extra`` options."""
    return ["invite", "deploy-model", "--name", "x", "--email", "x@y.example", *extra]


BAD_INPUTS: dict[str, BadInput] = {
    "data dir that is a file": lambda t: ["--data-dir", str(binary(t)), "status"],
    "missing --challenges-dir": lambda t: ["--challenges-dir", nowhere(t), "status"],
    "report into a missing folder": lambda t: ["report", "abc", "--out", nowhere(t)],
    "report onto a folder": lambda t: ["report", "abc", "--out", str(t)],
    "pack into a missing folder": lambda t: [
        "challenge",
        "pack",
        "deploy-model",
        "--out",
        nowhere(t),
    ],
    "issue into a missing folder": lambda t: ["credential", "issue", "x", "--out", nowhere(t)],
    "status list into a missing folder": lambda t: ["credential", "status", "--out", nowhere(t)],
    "plot into a missing folder": lambda t: ["candidate", "show", "ada", "--plot", nowhere(t)],
    "verify a missing file": lambda t: ["credential", "verify", str(t / "none.json")],
    "verify a folder": lambda t: ["credential", "verify", str(t)],
    "verify 50,000-deep JSON": lambda t: ["credential", "verify", str(deep_json(t))],
    "verify a binary file": lambda t: ["credential", "verify", str(binary(t))],
    "verify 2 MiB of JSON": lambda t: ["credential", "verify", str(huge_json(t))],
    "verify JSON with NaN": lambda t: ["credential", "verify", str(nan_json(t))],
    "install a folder": lambda t: ["challenge", "install", str(t)],
    "install a file that is no pack": lambda t: ["challenge", "install", str(binary(t))],
    "run a missing challenge folder": lambda t: ["run", str(t / "no-such-challenge")],
    "variant 10^20": lambda _: ["run", "deploy-model", "--variant", "1" + "0" * 20],
    "variant -1": lambda _: ["run", "deploy-model", "--variant=-1"],
    "variant NaN": lambda _: ["run", "deploy-model", "--variant", "nan"],
    "token number 10^20": lambda _: ["assessor", "revoke-token", "1" + "0" * 20],
    "token number 0": lambda _: ["assessor", "revoke-token", "0"],
    "token days NaN": lambda _: ["assessor", "token", "a@b.example", "--days", "nan"],
    "port 10^20": lambda _: ["serve", "--port", "1" + "0" * 20],
    "port -1": lambda _: ["serve", "--port=-1"],
    "invitation days NaN": lambda _: invite("--days", "nan"),
    "invitation days 1e308": lambda _: invite("--days", "1e308"),
    "invitation variant 10^20": lambda _: invite("--variant", "1" + "0" * 20),
    "a very long run id": lambda _: ["show", "r" * 100_000],
    "a very long candidate": lambda _: ["candidate", "show", "😀" * 10_000],
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_a_bad_input_is_one_message_never_an_internal_error(
    prodproven: Prodproven, tmp_path: Path, case: str
) -> None:
    given = tmp_path / "given"
    given.mkdir()
    one_paragraph(prodproven(*BAD_INPUTS[case](given)))


def test_data_dir_pointing_at_a_file_is_a_config_error_naming_the_option_and_the_path(
    prodproven: Prodproven, tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    refused = prodproven("--data-dir", str(a_file), "status")
    assert refused.code == 1
    assert refused.stderr.startswith("error: setting")
    assert refused.says(f"--data-dir='{a_file}' is invalid: expected a folder, but it is a file")


def test_report_out_to_a_missing_folder_is_refused_naming_the_folder(
    prodproven: Prodproven, tmp_path: Path
) -> None:
    refused = prodproven("report", "abc", "--out", str(tmp_path / "nope" / "report.html"))
    assert refused.code == 2
    assert refused.says(f"folder {tmp_path / 'nope'} does not exist")
    assert not (tmp_path / "nope").exists()


def test_a_50000_deep_credential_is_refused_within_the_json_limits(
    prodproven: Prodproven, tmp_path: Path
) -> None:
    refused = prodproven("credential", "verify", str(deep_json(tmp_path)))
    assert refused.code == 1
    assert refused.says("is not a JSON credential: its content: nested deeper than 64 levels")


def test_an_internal_error_saves_its_traceback_in_the_data_dir_in_use_and_its_log(
    prodproven: Prodproven, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: Context) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Context, "store", broken)
    given = tmp_path / "given"
    crashed = prodproven("--data-dir", str(given), "status")
    assert crashed.code == INTERNAL_ERROR
    assert crashed.says(f"RuntimeError: a bug (details in {given / 'crash.log'}; please")
    assert "Traceback" in (given / "crash.log").read_text()
    assert not (tmp_path / "data" / "crash.log").exists()
    logged = (given / "logs" / "prodproven.log").read_text()
    assert "ERROR" in logged and "internal error" in logged and "Traceback" in logged


def test_ctrl_c_in_a_command_prints_interrupted_and_exits_130(
    prodproven: Prodproven, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pressed(_: Context) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Context, "store", pressed)
    stopped = prodproven("status")
    assert (stopped.code, stopped.stderr) == (130, "interrupted\n")


class _CtrlCWhileLoading(importlib.abc.MetaPathFinder):
    """Ctrl-C pressed while the CLI's modules are being imported."""

    def find_spec(self, name: str, *_: object) -> None:
        if name == "prodproven.runner.cli.main":
            raise KeyboardInterrupt


def test_ctrl_c_while_the_command_loads_prints_interrupted_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "prodproven.runner.cli.main")
    monkeypatch.setattr(sys, "meta_path", [_CtrlCWhileLoading(), *sys.meta_path])
    with pytest.raises(SystemExit) as ended:
        entry(["status"])
    assert ended.value.code == 130 and capsys.readouterr().err == "interrupted\n"


def test_a_docker_read_timeout_under_load_is_one_message_not_an_internal_error(
    prodproven: Prodproven, monkeypatch: pytest.MonkeyPatch
) -> None:
    def timed_out(_: Context) -> None:
        raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=120)")

    monkeypatch.setattr(Context, "store", timed_out)
    failed = prodproven("status")
    assert failed.code == 1
    assert failed.says("the Docker engine failed or did not answer in time (ReadTimeout)")
    assert "Traceback" not in failed.stderr
