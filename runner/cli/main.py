"""The ``prodproven`` command line. Errors are caught once, here, and printed as one readable
message; results go to stdout (``--json`` for scripts) and progress to stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click
from prodproven.runner import plugins
from prodproven.runner.cli.candidates import candidate
from prodproven.runner.cli.context import Context, emit, err, out, progress
from prodproven.runner.cli.credentials import credential
from prodproven.runner.cli.people import PEOPLE_COMMANDS
from prodproven.runner.config import Settings
from prodproven.runner.errors import ChallengeClash, ProdprovenError, SpecError
from prodproven.runner.gate.validate import validate_challenge
from prodproven.runner.grading.result import status_document
from prodproven.runner.runs import supervisor
from prodproven.runner.runs.store import Status, utcnow
from prodproven.runner.spec import packs
from prodproven.runner.spec.challenge import Challenge, challenge_folders, list_challenges
from prodproven.runner.spec.scaffold import TEMPLATES, new_challenge
from rich.table import Table

variant_option = click.option(
    "--variant",
    type=int,
    help="Seed for the challenge's generated material and incident draw (default: the "
    "challenge's own), so one candidate's write-up does not solve the next candidate's run.",
)
fault_option = click.option(
    "--fault",
    metavar="NAME",
    help="Inject this fault of the challenge's catalogue instead of the drawn one (for "
    "authors trying each fault; the time is still drawn).",
)


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
    click_ctx.obj = Context(settings=settings)


@cli.group()
def challenge() -> None:
    """List and validate challenges."""


@challenge.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
def challenge_list(ctx: Context, as_json: bool) -> None:
    """List the challenges found in the built-in folder, --challenges-dir folders,
    PRODPROVEN_CHALLENGES_PATH and installed packs; broken ones and ids found in two folders
    are listed with their error."""
    found = list_challenges(ctx.settings.challenge_dirs, plugins.catalog())
    for problem in plugins.plugin_problems():
        click.echo(f"warning: {problem}", err=True)
    rows = [_challenge_row(c) for c in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "title", "version", "time", "competencies")
    for row in rows:
        if "error" in row:
            table.add_row("[red]invalid[/red]", row["error"], "", "", "")
        else:
            table.add_row(
                row["id"],
                row["title"],
                row["version"],
                f"{row['minutes']:g} min",
                ", ".join(row["competencies"]),
            )
    out.print(table)


def _challenge_row(found: Challenge | SpecError | ChallengeClash) -> dict[str, Any]:
    if isinstance(found, ChallengeClash):
        return {
            "id": found.challenge_id,
            "error": str(found),
            "paths": [str(folder) for folder in found.folders],
        }
    if isinstance(found, SpecError):
        return {"error": str(found), "path": found.path}
    return {
        "id": found.id,
        "title": found.spec.title,
        "version": found.spec.version,
        "minutes": found.spec.time_limit_minutes,
        "competencies": [x.value for x in found.spec.competencies],
        "path": str(found.root),
    }


@challenge.command("new")
@click.argument("name")
@click.option(
    "--from",
    "template",
    type=click.Choice(TEMPLATES),
    default="deploy-model",
    show_default=True,
    help="The built-in challenge to start from.",
)
@click.option(
    "--dir",
    "into",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Folder to create NAME in [default: the current folder].",
)
@click.pass_obj
def challenge_new(ctx: Context, name: str, template: str, into: Path) -> None:
    """Scaffold a new challenge DIR/NAME from a built-in one: a working spec, brief,
    workspace, hidden material, solution and image recipe, ready to adapt."""
    made = new_challenge(name, template, into, plugins.catalog())
    out.print(f"created {made.id} in {made.root} from {template}")
    out.print(f"next: edit it, then `prodproven challenge validate {made.root}`")


@challenge.command("pack")
@click.argument("challenge_ref", metavar="CHALLENGE")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it [default: ./ID-VERSION.ppc.tar.gz].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the pack's details as JSON.")
@click.pass_obj
def challenge_pack(ctx: Context, challenge_ref: str, out_path: Path | None, as_json: bool) -> None:
    """Write CHALLENGE (an id or a folder) as one pack file, with its version and every
    file's checksum, to install on another installation with `challenge install`."""
    target = ctx.challenge(challenge_ref)
    info = packs.pack(target, out_path or Path(f"{target.id}-{target.spec.version}.ppc.tar.gz"))
    if as_json:
        click.echo(json.dumps({**vars(info), "path": str(info.path)}))
        return
    out.print(f"{info.id} {info.version}: {info.files} files, {info.bytes} bytes in {info.path}")
    out.print(f"sha256 {info.sha256}")


@challenge.command("install")
@click.argument(
    "pack_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--force", is_flag=True, help="Install even over a newer installed version.")
@click.option("--json", "as_json", is_flag=True, help="Print what was installed as JSON.")
@click.pass_obj
def challenge_install(ctx: Context, pack_file: Path, force: bool, as_json: bool) -> None:
    """Install a challenge pack into the data directory, where challenges are found by id.
    Every file is checked against the pack's manifest and the spec is loaded first."""
    settings = ctx.settings
    elsewhere = [d for d in settings.challenge_dirs if d != settings.installed_challenges]
    taken = {cid: folders[0] for cid, folders in challenge_folders(elsewhere).items()}
    done = packs.install(
        pack_file, settings.installed_challenges, taken, plugins.catalog(), force=force
    )
    if as_json:
        click.echo(json.dumps({**vars(done), "path": str(done.path)}))
        return
    was = f" (replacing {done.replaced})" if done.replaced else ""
    out.print(f"installed {done.id} {done.version}{was} in {done.path}")


@challenge.command("validate")
@click.argument("challenge_ref", metavar="CHALLENGE")
@click.option(
    "--repeats",
    type=click.IntRange(2, 10),
    help="Gradings of the reference archive for the noise check (default: the spec's, 3).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Scripted runs at once. More is faster, but timing-sensitive graders (load, "
    "incident) then measure under each other's load.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.pass_obj
def challenge_validate(
    ctx: Context, challenge_ref: str, repeats: int | None, jobs: int, as_json: bool
) -> None:
    """The gate before a challenge goes live: static checks of its files; the reference
    solution and the untouched starter within their bands; every cheat that applies scores 0
    on the graders it attacks (or raises an integrity finding); the reference graded again
    to measure noise. Exits 1 when any check fails. CHALLENGE is an id or a folder."""
    target = ctx.challenge(challenge_ref)
    for problem in plugins.plugin_problems():
        click.echo(f"warning: {problem}", err=True)
    with progress() as step:
        verdict = validate_challenge(ctx.runner(step), target, plugins.cheats(), repeats, jobs)
    if as_json:
        click.echo(json.dumps(verdict, indent=2))
    else:
        table = Table("step", "check", "verdict", "detail")
        for check in verdict["checks"]:
            if check["skipped"]:
                shown = "[dim]n/a[/dim]"
            else:
                shown = "[green]ok[/green]" if check["ok"] else "[red]FAILED[/red]"
            table.add_row(check["section"], check["label"], shown, check["detail"])
        out.print(table)
        failed = sum(not c["ok"] for c in verdict["checks"])
        name = f"{verdict['challenge']} {verdict['version']}"
        out.print(
            f"[green]{name} is fit to give to candidates[/green]"
            if verdict["ok"]
            else f"[red]{name} is not fit to give to candidates: {failed} failed "
            f"{'check' if failed == 1 else 'checks'}[/red]"
        )
    if not verdict["ok"]:
        sys.exit(1)


@cli.command()
@click.argument("challenge_ref", metavar="CHALLENGE")
@click.option(
    "--submission",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder overlaid on the starter workspace as the candidate's work; its "
    ".autopilot/run.sh, if any, runs inside the workspace before submit (and "
    ".autopilot/respond.sh right after each injected fault).",
)
@click.option("--candidate", default="scripted", show_default=True, help="Name on the run.")
@variant_option
@fault_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.pass_obj
def run(
    ctx: Context,
    challenge_ref: str,
    submission: Path | None,
    candidate: str,
    variant: int | None,
    fault: str | None,
    as_json: bool,
) -> None:
    """Run a challenge non-interactively: start, overlay the submission, submit, grade.

    For challenges with incidents, the run is supervised in this process: the fault fires at
    its scripted time, the submission's .autopilot/respond.sh runs right after it, and the
    service is watched until a fix could prove stable."""
    ctx.json = as_json
    target = ctx.challenge(challenge_ref)
    with progress() as step:
        result = ctx.runner(step).run_scripted(target, submission, candidate, variant, fault)
    emit(ctx, status_document(result))


@cli.command()
@click.argument("challenge_ref", metavar="CHALLENGE")
@click.option("--candidate", required=True, help="Who takes the challenge.")
@variant_option
@fault_option
@click.option(
    "--no-supervise",
    is_flag=True,
    help="Do not start the background supervisor (start it later with `prodproven supervise`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.pass_obj
def start(
    ctx: Context,
    challenge_ref: str,
    candidate: str,
    variant: int | None,
    fault: str | None,
    no_supervise: bool,
    as_json: bool,
) -> None:
    """Start an interactive run; prints how to reach the workspace and the deadline.

    A supervisor process is started beside it: it fires the challenge's scheduled incidents,
    records the SLO prober's samples and submits the run when its time is up."""
    target = ctx.challenge(challenge_ref)
    with progress() as step:
        runner = ctx.runner(step)
        started = runner.start(target, candidate, variant=variant, fault=fault)
    if not no_supervise:
        log = runner.paths(started.id).root / "supervisor.log"
        pid = supervisor.spawn(ctx.settings, started.id, log)
        runner.event(started.id, "supervisor.spawned", {"pid": pid, "log": str(log)})
    if as_json:
        click.echo(json.dumps(status_document(started), indent=2, default=str))
        return
    assert started.deadline is not None
    out.print(f"run [bold]{started.id}[/bold] is running for {candidate}")
    out.print(
        f"deadline {started.deadline:%Y-%m-%d %H:%M:%S} UTC "
        f"({target.spec.time_limit_minutes:g} minutes)"
    )
    out.print(f"brief:      {target.root / 'brief.md'}")
    out.print(f"workspace:  prodproven shell {started.id}")
    out.print(f"jupyterlab: prodproven lab {started.id}")
    for name in [ref.name for ref in target.spec.services] + [p.name for p in target.spec.ports]:
        out.print(f"{name + ':':<11} prodproven forward {started.id} {name}")
    out.print(f"submit:     prodproven submit {started.id}")
    if not no_supervise:
        out.print(f"supervisor: process {pid}, log {log}")


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.pass_obj
def supervise(ctx: Context, run_id: str) -> None:
    """Supervise a running run in the foreground until it is submitted: fire its scheduled
    incidents, record its prober samples, submit and grade it at the deadline. `start` runs
    one in the background; run this to resume after a crash or a reboot (an incident that
    came due meanwhile fires late within its grace period, or is recorded as missed)."""
    with progress(quiet=True) as step:
        runner = ctx.runner(step)
    err.print(f"supervising run {run_id} (Ctrl-C to stop)")
    supervisor.RunSupervisor(runner, run_id, autosubmit=True).run()
    err.print(f"run {run_id} is {runner.store.get(run_id).status.value}; supervisor done")


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.argument("name")
@click.pass_obj
def forward(ctx: Context, run_id: str, name: str) -> None:
    """Make a running run's service (e.g. mlflow) or declared port reachable on 127.0.0.1
    until Ctrl-C, like `kubectl port-forward`. NAME is a service or port name."""
    with progress(quiet=True) as step:
        published = ctx.runner(step).forward(run_id, name)
    out.print(f"{name} of run {run_id}: [bold]{published.url}[/bold] (Ctrl-C to stop)")
    _hold()


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.pass_obj
def lab(ctx: Context, run_id: str) -> None:
    """Open JupyterLab (notebooks and a terminal) in a running run's workspace, as the
    candidate: starts it if needed and prints its URL with the run's token; until Ctrl-C."""
    with progress(quiet=True) as step:
        link = ctx.runner(step).lab(run_id)
    out.print(f"JupyterLab of run {run_id}: (Ctrl-C to stop)")
    click.echo(link.url)
    _hold()


def _hold() -> None:
    """Keep this process, and so its port forwards, alive until Ctrl-C."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        out.print("stopped")


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.pass_obj
def shell(ctx: Context, run_id: str) -> None:
    """Open an interactive shell in a running workspace, as the candidate."""
    with progress(quiet=True) as step:
        _, workspace = ctx.runner(step).workspace(run_id)
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise ProdprovenError("the docker command line is needed for an interactive shell")
    sys.exit(
        subprocess.call(
            [docker_cli, "exec", "-it", "-w", "/workspace", workspace.name, "bash", "-l"]
        )
    )


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--no-grade", is_flag=True, help="Only archive; grade later with `grade`.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def submit(ctx: Context, run_id: str, no_grade: bool, as_json: bool) -> None:
    """Submit a running run: archive the workspace, then grade it."""
    ctx.json = as_json
    with progress() as step:
        runner = ctx.runner(step)
        result = runner.submit(run_id)
        if not no_grade:
            result = runner.grade(run_id)
    emit(ctx, status_document(result))


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def grade(ctx: Context, run_id: str, as_json: bool) -> None:
    """Grade a submitted run again from its archive (after a crash, or to check noise)."""
    ctx.json = as_json
    with progress() as step:
        result = ctx.runner(step).grade(run_id)
    emit(ctx, status_document(result))


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the run as one JSON object.")
@click.option("--events", is_flag=True, help="Also print the run's event log.")
@click.pass_obj
def show(ctx: Context, run_id: str, as_json: bool, events: bool) -> None:
    """Show a run: score, competencies, each grader's summary and evidence."""
    ctx.json = as_json
    store = ctx.store()
    doc = status_document(store.get(run_id))
    if events:
        doc["events"] = [
            {"at": e.at.isoformat(), "kind": e.kind, "data": e.data} for e in store.events(run_id)
        ]
    emit(ctx, doc)
    if events and not as_json:
        for e in doc["events"]:
            out.print(f"[dim]{e['at']}[/dim] {e['kind']} {json.dumps(e['data'])[:200]}")


@cli.command()
@click.argument("run_id", metavar="RUN", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(ctx: Context, run_id: str | None, as_json: bool) -> None:
    """Show one run's status and time left, or list all runs."""
    store = ctx.store()
    runs = [store.get(run_id)] if run_id else store.list_runs()
    rows: list[dict[str, Any]] = []
    for r in runs:
        left = (r.deadline - utcnow()).total_seconds() if r.deadline else None
        rows.append(
            {
                "run_id": r.id,
                "challenge": r.challenge_id,
                "candidate": r.candidate,
                "status": r.status.value,
                "score": r.score,
                "seconds_left": round(left)
                if left is not None and r.status == Status.running
                else None,
                "created_at": r.created_at.isoformat(),
                "error": r.error,
            }
        )
    if as_json:
        click.echo(json.dumps(rows if run_id is None else rows[0], indent=2))
        return
    table = Table("run", "challenge", "candidate", "status", "score", "time left")
    for row in rows:
        left = row["seconds_left"]
        clock = (
            ""
            if left is None
            else ("overdue" if left < 0 else f"{left // 60:.0f}m {left % 60:02.0f}s")
        )
        table.add_row(
            row["run_id"],
            row["challenge"],
            row["candidate"],
            row["status"],
            "" if row["score"] is None else f"{row['score']:.1f}",
            clock,
        )
    out.print(table)


@cli.group()
def images() -> None:
    """Build the images runs need (offline-capable)."""


@images.command("build")
@click.argument("challenge_refs", metavar="[CHALLENGE]...", nargs=-1)
@click.pass_obj
def images_build(ctx: Context, challenge_refs: tuple[str, ...]) -> None:
    """Build the base, runtime, grader, service and challenge images (all challenges by
    default) and generate each challenge's default material."""
    refs = challenge_refs or tuple(
        c.id
        for c in list_challenges(ctx.settings.challenge_dirs, plugins.catalog())
        if isinstance(c, Challenge)
    )
    with progress() as step:
        runner = ctx.runner(step)
        step("grader image")
        tags = [runner.images.runtime(), runner.images.grader()]
        for ref in refs:
            target = ctx.challenge(ref)
            tags.append(runner.challenge_image(target))
            tags += [plan.image for plan in runner.service_plans(target)]
            runner.material(target)
        step("done")
    for tag in tags:
        out.print(tag)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.pass_obj
def gc(ctx: Context, as_json: bool) -> None:
    """Remove containers and volumes left by finished, errored or unknown runs."""
    with progress(quiet=True) as step:
        removed = ctx.runner(step).gc()
    if as_json:
        click.echo(json.dumps(removed))
    else:
        out.print(f"removed {sum(removed.values())} objects of {len(removed)} runs")


for _command in PEOPLE_COMMANDS:
    cli.add_command(_command)
cli.add_command(credential)
cli.add_command(candidate)


def main() -> None:
    """Entry point: one readable message per error, never a bare traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        err.print("aborted")
        sys.exit(130)
    except SpecError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        sys.exit(2)
    except ProdprovenError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        crash = Path(sys.prefix).parent / "prodproven-crash.log"
        try:
            crash = Settings.from_env().data_dir / "crash.log"
            crash.parent.mkdir(parents=True, exist_ok=True)
        except ProdprovenError:
            pass
        crash.write_text(traceback.format_exc())
        err.print(
            f"[red]internal error:[/red] {exc.__class__.__name__}: {exc} "
            f"(details in {crash}; please report it)",
            highlight=False,
        )
        sys.exit(70)
