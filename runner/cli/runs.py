"""The commands of one run: ``run`` (scripted), ``start`` (interactive) and what reaches into
a running run (``shell``, ``lab``, ``forward``, ``supervise``), then ``submit``, ``grade``,
``view`` (a submitted run's services), ``show``, ``status`` and ``gc``."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from prodproven.runner.cli.context import Context, emit, err, out, plain, progress
from prodproven.runner.cli.people import operator
from prodproven.runner.errors import CommandTimeout, ProdprovenError
from prodproven.runner.grading.result import status_document
from prodproven.runner.lifecycle import supervisor
from prodproven.runner.lifecycle.admission import cluster_reason, places
from prodproven.runner.runs import recording
from prodproven.runner.runs.store import Status, utcnow
from prodproven.runner.spec.prepare import MAX_VARIANT

SHELL_TIMEOUT_S = 24 * 3600
"""Longest an interactive ``prodproven shell`` stays open; the run's deadline, which stops the
workspace, usually ends it much sooner."""

log = logging.getLogger(__name__)

variant_option = click.option(
    "--variant",
    type=click.IntRange(0, MAX_VARIANT),
    help="Seed for the challenge's generated material and incident draw, 0 to 2147483647 "
    "(default: the challenge's own), so one candidate's write-up does not solve the next "
    "candidate's run.",
)
fault_option = click.option(
    "--fault",
    metavar="NAME",
    help="Inject this fault of the challenge's catalogue instead of the drawn one (for "
    "authors trying each fault; the time is still drawn).",
)


@click.command()
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


@click.command()
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

    The data directory's supervisor process supervises it (started unless it runs): it fires
    the challenge's scheduled incidents, records the SLO prober's samples and submits the run
    when its time is up."""
    target = ctx.challenge(challenge_ref)
    with progress() as step:
        runner = ctx.runner(step)
        started = runner.start(target, candidate, variant=variant, fault=fault)
    if not no_supervise:
        log = supervisor.log_path(ctx.settings)
        pid = supervisor.spawn(ctx.settings)
        runner.event(started.id, supervisor.WANTED, {"pid": pid, "log": str(log)})
    if as_json:
        click.echo(json.dumps(status_document(started).stored(), indent=2))
        return
    assert started.deadline is not None
    out.print(Text.assemble("run ", (started.id, "bold"), f" is running for {candidate}"))
    lines = [
        f"deadline {started.deadline:%Y-%m-%d %H:%M:%S} UTC "
        f"({target.spec.time_limit_minutes:g} minutes)",
        f"brief:      {target.root / 'brief.md'}",
        f"workspace:  prodproven shell {started.id}",
        f"jupyterlab: prodproven lab {started.id}",
    ]
    for name in [ref.name for ref in target.spec.services] + [p.name for p in target.spec.ports]:
        lines.append(f"{name + ':':<11} prodproven forward {started.id} {name}")
    lines.append(f"submit:     prodproven submit {started.id}")
    if not no_supervise:
        lines.append(f"supervisor: process {pid}, log {log}")
    for line in lines:
        out.print(Text(line))


@click.command()
@click.argument("run_id", metavar="RUN", required=False)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Supervise every interactive run that asked for background supervision (what `start` "
    "launches), one thread per run, until none has been running for a minute.",
)
@click.pass_obj
def supervise(ctx: Context, run_id: str | None, every: bool) -> None:
    """Supervise a running run (RUN, or with --all every interactive run of the data
    directory that asked for it) in the foreground until it is submitted: fire its scheduled
    incidents, record its prober samples, submit and grade it at the deadline. `start` runs
    `supervise --all` in the background; run this to resume after a crash or a reboot (an
    incident that came due meanwhile fires late within its grace period, or is recorded as
    missed)."""
    if (run_id is None) == (not every):
        raise click.UsageError("give either RUN or --all")
    with progress(quiet=True) as step:
        runner = ctx.runner(step)
    if run_id is None:
        err.print(Text(f"supervising the runs of {ctx.settings.data_dir} (Ctrl-C to stop)"))
        log.info("supervising the runs of %s", ctx.settings.data_dir)
        due = ctx.portal().campaigns.due_work()
        supervisor.AllSupervisor(runner, supervisor.lock_path(ctx.settings), due=due).run()
        log.info("no interactive run is running; supervisor done")
        return
    if runner.store.get(run_id).status is not Status.running:
        # what a supervisor stopped mid-way (a submit at the deadline) is taken up
        for recovered in runner.recover(run_id):
            log.info(recovered.line())
            err.print(Text(recovered.line()))
        return
    err.print(Text(f"supervising run {run_id} (Ctrl-C to stop)"))
    log.info("supervising run %s", run_id)
    supervisor.RunSupervisor(runner, run_id, autosubmit=True).run()
    done = f"run {run_id} is {runner.store.get(run_id).status.value}; supervisor done"
    log.info(done)
    err.print(Text(done))


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("name")
@click.pass_obj
def forward(ctx: Context, run_id: str, name: str) -> None:
    """Make a running run's service (e.g. mlflow) or declared port reachable on 127.0.0.1
    until Ctrl-C, like `kubectl port-forward`. NAME is a service or port name."""
    with progress(quiet=True) as step:
        published = ctx.runner(step).forward(run_id, name)
    out.print(
        Text.assemble(f"{name} of run {run_id}: ", (published.url, "bold"), " (Ctrl-C to stop)")
    )
    _hold()


@click.command()
@click.argument("run_id", metavar="RUN")
@click.pass_obj
def lab(ctx: Context, run_id: str) -> None:
    """Open JupyterLab (notebooks and a terminal) in a running run's workspace, as the
    candidate: starts it if needed and prints its URL with the run's token on 127.0.0.1;
    until Ctrl-C. Its terminals and cell executions are recorded into the run's data
    directory, like the web app's lab."""
    from prodproven.runner.web import lab_relay  # the web stack, for this command only

    with progress(quiet=True) as step:
        runner = ctx.runner(step)
        link = runner.lab(run_id)

    def listening(url: str) -> None:
        out.print(Text(f"JupyterLab of run {run_id}, recorded: (Ctrl-C to stop)"))
        click.echo(url)

    with contextlib.suppress(KeyboardInterrupt):  # the relay stopped, then passed Ctrl-C on
        lab_relay.serve(runner, run_id, link, ctx.settings.recording_cap_mb, listening)
    out.print("stopped")


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("name", metavar="SERVICE")
@click.option("--json", "as_json", is_flag=True, help="Print the URL as one JSON object.")
@click.pass_obj
def view(ctx: Context, run_id: str, name: str, as_json: bool) -> None:
    """Open a submitted run's service (e.g. mlflow) as it was at submit: restored from its
    archive into the run's view pod, on 127.0.0.1 until Ctrl-C, then removed. Changes made
    through this URL change a throwaway copy, never the archive (the web app passes reads
    only)."""
    portal = ctx.portal()
    with progress(quiet=True):
        tool = portal.runs.tool_view(operator(), run_id, name)
    url = f"http://127.0.0.1:{tool.port}"
    if as_json:
        click.echo(json.dumps({"run_id": run_id, "service": name, "url": url}))
    else:
        out.print(
            Text.assemble(f"{name} of run {run_id} at submit: ", (url, "bold"), " (Ctrl-C to stop)")
        )
    views = portal.invited.runner().views
    try:
        _hold(every_s=min(60.0, ctx.settings.view_idle_s / 2), tick=lambda: views.touch(run_id))
    finally:
        views.close(run_id)


def _hold(every_s: float = 3600, tick: Callable[[], object] = lambda: None) -> None:
    """Keep this process, and so its port forwards, alive until Ctrl-C, calling ``tick``
    every ``every_s`` seconds."""
    try:
        while True:
            time.sleep(every_s)
            tick()
    except KeyboardInterrupt:
        out.print("stopped")


@click.command()
@click.argument("run_id", metavar="RUN")
@click.pass_obj
def shell(ctx: Context, run_id: str) -> None:
    """Open an interactive shell in a running workspace, as the candidate (recorded into the
    run's data directory, like the lab's terminals)."""
    with progress(quiet=True) as step:
        runner = ctx.runner(step)
        _, workspace = runner.workspace(run_id)
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise ProdprovenError("the docker command line is needed for an interactive shell")
    command = [docker_cli, "exec", "-it", "-w", "/workspace", workspace.name, "bash", "-l"]
    recordings = recording.Recordings.of_run(
        runner.paths(run_id).root,
        ctx.settings.recording_cap_mb,
        lambda kind, data: runner.event(run_id, kind, data),
    )
    cast = recordings.terminal("shell", f"prodproven shell {run_id}")
    try:
        sys.exit(recording.relay_pty(command, cast, timeout_s=SHELL_TIMEOUT_S))
    except subprocess.TimeoutExpired:
        raise CommandTimeout(
            f"the shell in run {run_id} was closed after {SHELL_TIMEOUT_S // 3600} hours"
        ) from None


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--no-grade", is_flag=True, help="Only archive; grade later with `grade`.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def submit(ctx: Context, run_id: str, no_grade: bool, as_json: bool) -> None:
    """Submit a running run: archive the workspace, then grade it."""
    ctx.json = as_json
    with progress() as step:
        runner = ctx.runner(step)
        result = runner.submit(run_id) if no_grade else runner.finish(run_id)
    emit(ctx, status_document(result))


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def grade(ctx: Context, run_id: str, as_json: bool) -> None:
    """Grade a submitted run again from its archive (after a crash, or to check noise)."""
    ctx.json = as_json
    with progress() as step:
        result = ctx.runner(step).grade(run_id)
    emit(ctx, status_document(result))


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the run as one JSON object.")
@click.option("--events", is_flag=True, help="Also print the run's event log.")
@click.pass_obj
def show(ctx: Context, run_id: str, as_json: bool, events: bool) -> None:
    """Show a run: score, competencies, each grader's summary and evidence."""
    ctx.json = as_json
    store = ctx.store()
    doc = status_document(store.get(run_id))
    log: list[dict[str, Any]] = [
        {"at": e.at.isoformat(), "kind": e.kind, "data": e.data}
        for e in (store.events(run_id) if events else [])
    ]
    emit(ctx, doc, **({"events": log} if events else {}))
    if events and not as_json:
        for e in log:
            out.print(
                Text.assemble((e["at"], "dim"), f" {e['kind']} {json.dumps(e['data'])[:200]}")
            )


@click.command()
@click.argument("run_id", metavar="RUN", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(ctx: Context, run_id: str | None, as_json: bool) -> None:
    """Show one run's status and time left, or list all runs; a queued run shows its place
    in the queue, or, waiting for room in a cluster, what the cluster said."""
    store = ctx.store()
    runs = [store.get(run_id)] if run_id else store.list_runs()
    queue = places(store)
    rows: list[dict[str, Any]] = []
    waits: dict[str, str] = {}
    for r in runs:
        left = (r.deadline - utcnow()).total_seconds() if r.deadline else None
        place, reason = queue.get(r.id), cluster_reason(r)
        if place is not None:
            waits[r.id] = f"queued ({place.position} of {place.of})"
        elif reason is not None:
            waits[r.id] = f"queued (waiting for room in the cluster: {reason})"
        rows.append(
            {
                "run_id": r.id,
                "challenge": r.challenge_id,
                "candidate": r.candidate,
                "status": r.status.value,
                "queue_position": place.position if place else None,
                "queue_length": place.of if place else None,
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
            *plain(
                row["run_id"],
                row["challenge"],
                row["candidate"],
                waits.get(row["run_id"], row["status"]),
                "" if row["score"] is None else f"{row['score']:.1f}",
                clock,
            )
        )
    out.print(table)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.pass_obj
def gc(ctx: Context, as_json: bool) -> None:
    """Remove containers and volumes of runs that are over (graded, errored, cancelled),
    unknown to the store, or left mid-way by a process that died; never those of a running
    run or of a run another process is working on (run `recover` first to resume those)."""
    with progress(quiet=True) as step:
        removed = ctx.runner(step).gc()
    if as_json:
        click.echo(json.dumps(removed))
    else:
        out.print(f"removed {sum(removed.values())} objects of {len(removed)} runs")


@click.command()
@click.argument("run_id", metavar="RUN", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print what was done per run as JSON.")
@click.pass_obj
def recover(ctx: Context, run_id: str | None, as_json: bool) -> None:
    """Take up every run (or RUN) that a stopped process left mid-way: provisioning runs are
    torn down and errored, submitted and grading runs archived and graded, interactive runs
    get their supervisor back. `serve` does this when it starts; run it after a crash or a
    reboot when nothing else does (it is safe to run at any time: runs another process is
    working on are left alone)."""
    with progress(quiet=as_json) as step:
        runner = ctx.runner(step)
        recovered = []
        for one in runner.recover(run_id):
            recovered.append(one)
            if not as_json:
                out.print(Text(one.line()))
    if as_json:
        click.echo(json.dumps([one.as_data() for one in recovered], indent=2))
    elif not recovered:
        out.print("no run needed recovering")


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--reason", required=True, help="Why the run is ended (kept with it and audited).")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.pass_obj
def cancel(ctx: Context, run_id: str, reason: str, as_json: bool) -> None:
    """End a run that has no result yet, on purpose: archive what its workspace holds, remove
    its containers and record it as cancelled with the reason (in the audit log too).
    Cancelled is final: the run is never graded."""
    ctx.json = as_json
    with progress(quiet=True):
        cancelled = ctx.portal().runs.cancel(operator(), run_id, reason)
    emit(ctx, status_document(cancelled))


RUN_COMMANDS = [
    run,
    start,
    supervise,
    forward,
    lab,
    view,
    shell,
    submit,
    grade,
    show,
    status,
    gc,
    recover,
    cancel,
]
