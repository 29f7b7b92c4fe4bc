"""``prodproven credential``: issue, verify and revoke the verifiable credentials of runs, and
write the signed revocation status list for static hosting."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from prodproven.runner.cli.context import Context, OutFile, out, write_out
from prodproven.runner.cli.people import operator
from prodproven.runner.credentials.status_list import fetch_json, list_url
from prodproven.runner.errors import CredentialError
from prodproven.sandbox.untrusted import UntrustedInput, load_json, read_text


@click.group()
def credential() -> None:
    """Open Badges 3.0 credentials for graded runs, signed by this installation's key."""


@credential.command("issue")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--out",
    "out_file",
    type=OutFile(),
    help="Write the credential here (default: print it).",
)
@click.pass_obj
def issue(ctx: Context, run_id: str, out_file: Path | None) -> None:
    """Issue a signed credential for a graded run that passed: every requirement met and at or
    above its challenge's pass score (after review: an override counts and is part of the
    evidence, but never passes a run that missed a requirement)."""
    issued = ctx.portal().credentials.issue(operator(), run_id)
    text = json.dumps(issued.document, indent=2)
    if out_file is None:
        click.echo(text)
        return
    write_out(out_file, text + "\n")
    out.print(
        Text(f"issued {issued.id} for run {run_id}, valid until {issued.valid_until:%Y-%m-%d}")
    )
    out.print(
        Text(f"written to {out_file}; check it with `prodproven credential verify {out_file}`")
    )


@credential.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.pass_obj
def verify(ctx: Context, file: Path, as_json: bool) -> None:
    """Check a credential: the Open Badges 3.0 schema, its terms, signature, issuer, validity
    dates, this installation's register and the issuer's status list (fetched from the URL in
    the credential; when it cannot be reached, a warning says revocation was not checked).
    Exits 1 when any check fails, saying what failed."""
    document = _credential(file)
    verdict = ctx.portal().credentials.verify(document, fetch_json)
    if as_json:
        click.echo(json.dumps(verdict.as_dict(), indent=2))
    else:
        table = Table("check", "verdict", "detail")
        for check in verdict.checks:
            shown = (
                Text("FAILED", "red")
                if not check.ok
                else Text("warning", "yellow")
                if check.warning
                else Text("ok", "green")
            )
            table.add_row(Text(check.name), shown, Text(check.detail))
        out.print(table)
        out.print(
            Text(f"{verdict.id} is valid", "green")
            if verdict.ok
            else Text(f"{verdict.id} is NOT valid", "red")
        )
    if not verdict.ok:
        sys.exit(1)


@credential.command("revoke")
@click.argument("credential_id", metavar="ID")
@click.option("--reason", required=True, help="Why (at least 10 characters; kept and shown).")
@click.pass_obj
def revoke(ctx: Context, credential_id: str, reason: str) -> None:
    """Revoke a credential: from now on it verifies as revoked, with the date and reason."""
    issued = ctx.portal().credentials.revoke(operator(), credential_id, reason)
    out.print(Text(f"revoked {issued.id} (run {issued.run_id})"))


@credential.command("status")
@click.option(
    "--out",
    "out_file",
    type=OutFile(),
    help="Write the status list here (default: print it).",
)
@click.pass_obj
def status(ctx: Context, out_file: Path | None) -> None:
    """The signed revocation status list as it stands (a W3C Bitstring Status List), for
    hosting at the URL credentials name when the web app is not reachable from outside."""
    text = json.dumps(ctx.portal().credentials.revocation_list(), indent=2)
    if out_file is None:
        click.echo(text)
        return
    write_out(out_file, text + "\n")
    out.print(
        Text(f"written to {out_file}; credentials expect it at {list_url(ctx.settings.base_url)}")
    )


def _credential(file: Path) -> Any:
    """The JSON document in ``file``, read within the size and depth limits of outside input."""
    try:
        return load_json(read_text(file, what="its file"), what="its content")
    except UntrustedInput as exc:
        raise CredentialError(f"{file} is not a JSON credential: {exc}") from None
