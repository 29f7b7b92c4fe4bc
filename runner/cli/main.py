"""The ``prodproven`` command line. Errors are caught once, here, and printed as one readable
message; results go to stdout (``--json`` for scripts) and progress to stderr. Every command
is logged (:mod:`prodproven.runner.logs`)."""

from __future__ import annotations

import io
import logging
import shlex
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click
from rich.text import Text

from prodproven.runner import logs
from prodproven.runner.cli import challenges, runs
from prodproven.runner.cli.alerts import alerts
from prodproven.runner.cli.campaigns import campaign
from prodproven.runner.cli.candidates import candidate
from prodproven.runner.cli.context import Context, err
from prodproven.runner.cli.credentials import credential
from prodproven.runner.cli.evidence import evidence
from prodproven.runner.cli.outbox import outbox
from prodproven.runner.cli.people import PEOPLE_COMMANDS
from prodproven.runner.cli.pool import pool
from prodproven.runner.cli.roles import role
from prodproven.runner.cli.similarity import similarity_command
from prodproven.runner.cli.teams import gaps, team
from prodproven.runner.config import Settings, usable_data_dir
from prodproven.runner.errors import ProdprovenError, SpecError
from prodproven.sandbox.docker_backend import ENGINE_ERRORS

log = logging.getLogger(__name__)
ARGS = "prodproven.args"
"""Where :func:`main` leaves the command line for the log (``meta`` of the click context)."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    envvar="PRODPROVEN_DATA_DIR",
    help="Where runs, archives and the store live [env PRODPROVEN_DATA_DIR].",
)
@click.option(
    "--challenges-dir",
    "challenges_dirs",
    metavar="DIR",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, resolve_path=True, path_type=Path),
    help="Also find challenges by id in the folders inside DIR, searched after the built-in "
    "ones and before PRODPROVEN_CHALLENGES_PATH (repeatable).",
)
@click.version_option(package_name="prodproven")
@click.pass_context
def cli(click_ctx: click.Context, data_dir: Path | None, challenges_dirs: tuple[Path, ...]) -> None:
    """prodproven: put AI/ML engineers in real, containerized production situations and
    grade what they actually did.

    \b
    Typical use:
      prodproven challenge list
      prodproven run deploy-model --submission challenges/deploy-model/solution
      prodproven start deploy-model --candidate ada
      prodproven show RUN
    """
    settings = Settings.from_env(data_dir=data_dir).searching_first(challenges_dirs)
    given = click_ctx.get_parameter_source("data_dir") == click.core.ParameterSource.COMMANDLINE
    usable_data_dir(settings.data_dir, "--data-dir" if given else "PRODPROVEN_DATA_DIR")
    click_ctx.obj = Context(settings=settings)
    logs.configure(settings)
    args = click_ctx.meta.get(ARGS, [click_ctx.invoked_subcommand or ""])
    log.info("command: prodproven %s", shlex.join(_without_emails(args)))


def _without_emails(args: Sequence[str]) -> list[str]:
    """The command line for the log, an email address (personal data) shown as ``<email>``."""
    return ["<email>" if "@" in arg else arg for arg in args]


cli.add_command(challenges.challenge)
cli.add_command(challenges.images)
cli.add_command(alerts)
cli.add_command(outbox)
cli.add_command(campaign)
cli.add_command(similarity_command)
cli.add_command(evidence)
for _command in (*runs.RUN_COMMANDS, *PEOPLE_COMMANDS, credential, candidate, pool, role, team):
    cli.add_command(_command)
candidate.add_command(gaps)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line ``argv`` (``prodproven.runner.cli.entry`` loads this module and
    calls it): one readable message per error, never a bare traceback."""
    click_ctx: click.Context | None = None
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # a name or file the terminal cannot show
            stream.reconfigure(errors="backslashreplace")
    try:
        args = list(sys.argv[1:] if argv is None else argv)
        click_ctx = cli.make_context("prodproven", list(args))
        click_ctx.meta[ARGS] = args
        with click_ctx:
            cli.invoke(click_ctx)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        err.print("aborted")
        sys.exit(130)
    except ProdprovenError as exc:
        log.error("%s: %s", exc.__class__.__name__, exc)
        err.print(Text.assemble(("error:", "red"), f" {exc}"))
        sys.exit(2 if isinstance(exc, SpecError) else 1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except ENGINE_ERRORS as exc:
        log.error("the Docker engine failed: %s: %s", exc.__class__.__name__, exc)
        err.print(
            Text.assemble(
                ("error:", "red"),
                f" the Docker engine failed or did not answer in time ({exc.__class__.__name__});"
                " check it (docker info) and try again; `prodproven recover` takes up the run",
            )
        )
        sys.exit(1)
    except Exception as exc:
        log.exception("internal error")
        crash = _crash_log(click_ctx.obj if click_ctx is not None else None)
        try:
            crash.write_text(traceback.format_exc(), encoding="utf-8")
            details = f"details in {crash}; "
        except OSError:
            details = ""
        err.print(
            Text.assemble(
                ("internal error:", "red"),
                f" {exc.__class__.__name__}: {exc} ({details}please report it)",
            )
        )
        sys.exit(70)


def _crash_log(ctx: Context | None) -> Path:
    """``crash.log`` in the data directory in use (``--data-dir`` included); beside the
    Python environment when the settings themselves cannot be read."""
    try:
        data_dir = ctx.settings.data_dir if ctx is not None else Settings.from_env().data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        return data_dir / "crash.log"
    except (ProdprovenError, OSError):
        return Path(sys.prefix).parent / "prodproven-crash.log"
