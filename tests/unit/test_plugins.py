"""Graders from installed packages: an entry point in the ``prodproven.graders`` group names a
kind and a Grader class. A broken one costs its own grader a failed result, never the run.

Packages are declared here as dist-info folders on a temporary sys.path entry, so discovery
goes through importlib.metadata exactly as for an installed package."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import Field

from prodproven.graders.base import Grader, GraderError, GradeResult, Params
from prodproven.runner import plugins
from prodproven.runner.errors import ProdprovenError
from prodproven.runner.gate.cheats import Cheat, CheatContext, NotApplicable, Probe
from prodproven.runner.grading.pipeline import GradingJob, run_graders
from prodproven.runner.grading.result import RunResult
from prodproven.runner.hookspecs import Figure
from prodproven.runner.present.plots import Bars, bar_chart, figure, run_plots
from prodproven.runner.spec.challenge import load_challenge
from tests.unit.pluginsupport import plugins_found_afresh
from tests.unit.resultsupport import grader_entry, result_doc

HERE = "tests.unit.test_plugins"


class EchoParams(Params):
    score: float = Field(1.0, description="the score to return")


class EchoGrader(Grader[EchoParams]):
    kind = "echo"
    description = "Returns the score it is given."
    Params = EchoParams

    def grade(self, env: Any, params: EchoParams) -> GradeResult:
        return GradeResult(score=params.score, passed=True, summary="echoed")


class CrashingGrader(Grader[EchoParams]):
    kind = "crashing"
    description = "Fails with a bug of its own."
    Params = EchoParams

    def grade(self, env: Any, params: EchoParams) -> GradeResult:
        raise ZeroDivisionError("division by zero")


class AbstractGrader(Grader[EchoParams]):
    kind = "abstract"
    description = "Forgets to implement grade."
    Params = EchoParams


class ParamlessGrader(EchoGrader):
    kind = "paramless"
    Params = dict  # type: ignore[assignment]  # the broken plugin the loader must catch


class PytestLookalike(EchoGrader):
    kind = "pytest"


@pytest.fixture(autouse=True)
def fresh_plugins() -> Iterator[None]:
    with plugins_found_afresh():
        yield


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path where tests install packages (their metadata and modules)."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def declare(
    site: Path,
    entries: dict[str, str],
    *,
    dist: str = "acme-graders",
    version: str = "1.2.0",
    group: str = plugins.GRADERS_GROUP,
) -> None:
    """Install the metadata of package ``dist`` declaring ``entries`` (name: module:Class)."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{kind} = {value}\n" for kind, value in entries.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")


class EchoCheat(Cheat):
    name = "echo-cheat"
    trick = "asks the echo grader for full marks"

    def build(self, ctx: CheatContext) -> Probe | NotApplicable:
        return NotApplicable("nothing to attack")


def test_a_packaged_cheat_is_validated_after_the_builtin_ones(site: Path) -> None:
    declare(site, {"echo-cheat": f"{HERE}:EchoCheat"}, group=plugins.CHEATS_GROUP)
    names = [cheat.name for cheat in plugins.cheats()]
    assert names[:9] == [
        "hidden-paths",
        "network",
        "hard-coded",
        "inflated-metrics",
        "forged-outputs",
        "over-quota",
        "flag-everything",
        "dev-answers",
        "query-cache",
    ]
    assert names[9:] == ["echo-cheat"]


def test_a_cheat_plugin_that_fails_to_import_is_left_out_and_reported(site: Path) -> None:
    declare(site, {"sneaky": "acme_nope:Sneaky"}, group=plugins.CHEATS_GROUP)
    assert "sneaky" not in [cheat.name for cheat in plugins.cheats()]
    assert plugins.plugin_problems() == [
        "cheat plugin 'sneaky' (acme-graders 1.2.0, acme_nope:Sneaky) failed to load: "
        "ModuleNotFoundError: No module named 'acme_nope'"
    ]


def echo_plot(name: str, evidence: dict[str, Any]) -> list[Figure]:
    svg = bar_chart(f"{name}: echoed", ["score"], [Bars("echoed", [evidence["score"]])], y_label="")
    return [figure(name, "echoed", f"{name}: echoed", svg, "the score it was given")]


def test_a_packaged_plot_draws_the_figures_of_its_grader_kind(site: Path) -> None:
    declare(site, {"echo": f"{HERE}:echo_plot"}, group=plugins.PLOTS_GROUP)
    echo = grader_entry("speed", kind="echo", evidence={"score": 0.5})
    load = grader_entry("load", evidence={})  # no series: the built-in plot draws nothing
    result = RunResult.model_validate(result_doc(load, echo))
    (drawn,) = run_plots(result, plugins.plots())
    assert (drawn.id, drawn.grader, drawn.caption) == (
        "speed-echoed",
        "speed",
        "the score it was given",
    )
    assert "<title>speed: echoed</title>" in drawn.svg


def test_a_plot_plugin_that_fails_to_import_is_left_out_and_reported(site: Path) -> None:
    declare(site, {"echo": "acme_nope:draw"}, group=plugins.PLOTS_GROUP)
    assert "echo" not in [plot.kind for plot in plugins.plots()]
    assert plugins.plugin_problems() == [
        "plot plugin 'echo' (acme-graders 1.2.0, acme_nope:draw) failed to load: "
        "ModuleNotFoundError: No module named 'acme_nope'"
    ]


def test_a_cheat_plugin_named_unlike_its_cheat_is_left_out_and_reported(site: Path) -> None:
    declare(site, {"other": f"{HERE}:EchoCheat"}, group=plugins.CHEATS_GROUP)
    assert plugins.plugin_problems() == [
        f"cheat plugin 'other' (acme-graders 1.2.0, {HERE}:EchoCheat) is not a "
        "prodproven.runner.gate.cheats.Cheat named 'other'"
    ]


def test_a_packaged_grader_is_available_under_its_kind(site: Path) -> None:
    declare(site, {"echo": f"{HERE}:EchoGrader"})
    assert plugins.graders()["echo"] is EchoGrader
    assert plugins.catalog().grader_params["echo"] is EchoParams


def test_a_plugin_that_fails_to_import_grades_as_an_error_naming_it(site: Path) -> None:
    declare(site, {"wordcount": "acme_nope:WordCountGrader"})
    with pytest.raises(GraderError) as info:
        plugins.graders()["wordcount"]().grade(SimpleNamespace(), EchoParams())
    assert str(info.value) == (
        "grader plugin 'wordcount' (acme-graders 1.2.0, acme_nope:WordCountGrader) failed to "
        "load: ModuleNotFoundError: No module named 'acme_nope'"
    )


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("raise RuntimeError('no licence server')", "RuntimeError: no licence server"),
        ("def grade(:\n", "SyntaxError: "),
    ],
)
def test_a_plugin_module_that_raises_on_import_stands_in_with_the_error(
    site: Path, source: str, error: str
) -> None:
    (site / "acme_broken.py").write_text(source)
    declare(site, {"broken": "acme_broken:Grader"})
    stand_in = plugins.graders()["broken"]
    assert issubclass(stand_in, plugins.BrokenPluginGrader)
    assert f"failed to load: {error}" in stand_in.problem


def test_a_broken_plugins_stand_in_accepts_any_params(site: Path) -> None:
    declare(site, {"wordcount": "acme_nope:WordCountGrader"})
    params = plugins.catalog().grader_params["wordcount"].model_validate({"min_words": 300})
    assert params.model_dump() == {"min_words": 300}


def test_a_spec_naming_a_broken_plugin_still_loads(
    site: Path, make_challenge: Callable[..., Path]
) -> None:
    declare(site, {"wordcount": "acme_nope:WordCountGrader"})
    root = make_challenge(lambda s: s["graders"][0].update(kind="wordcount", params={"n": 3}))
    assert load_challenge(root, plugins.catalog()).spec.graders[0].kind == "wordcount"


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        (
            "tally",
            "os.path:join",
            "is not a prodproven.graders.base.Grader subclass (it is <function join",
        ),
        ("tally", f"{HERE}:EchoParams", "is not a prodproven.graders.base.Grader subclass"),
        ("tally", f"{HERE}:AbstractGrader", "does not implement grade"),
        ("tally", f"{HERE}:EchoGrader", "has kind 'echo'; the entry point's name must be its kind"),
        ("paramless", f"{HERE}:ParamlessGrader", "has no Params model"),
    ],
)
def test_an_entry_point_that_is_not_a_grader_of_its_kind_is_reported(
    site: Path, kind: str, value: str, problem: str
) -> None:
    declare(site, {kind: value})
    [reported] = plugins.plugin_problems()
    assert reported.startswith(f"grader plugin {kind!r} (acme-graders 1.2.0, {value}) {problem}")
    assert issubclass(plugins.graders()[kind], plugins.BrokenPluginGrader)


def test_plugin_problems_list_only_the_broken_plugins(site: Path) -> None:
    declare(site, {"echo": f"{HERE}:EchoGrader", "wordcount": "acme_nope:WordCountGrader"})
    assert [problem.split(" (")[0] for problem in plugins.plugin_problems()] == [
        "grader plugin 'wordcount'"
    ]


def test_a_plugin_kind_clashing_with_a_builtin_names_both(site: Path) -> None:
    declare(site, {"pytest": f"{HERE}:PytestLookalike"})
    with pytest.raises(ProdprovenError) as info:
        plugins.graders()
    message = str(info.value)
    assert message.startswith("two plugins register a grader of kind 'pytest': ")
    assert "prodproven.graders.pytest_grader.PytestGrader" in message
    assert f"grader plugin 'pytest' (acme-graders 1.2.0, {HERE}:PytestLookalike)" in message


def test_two_packages_declaring_one_kind_name_both(site: Path) -> None:
    declare(site, {"echo": f"{HERE}:EchoGrader"})
    declare(site, {"echo": "acme_nope:Echo"}, dist="rival-graders", version="0.3.0")
    with pytest.raises(ProdprovenError) as info:
        plugins.graders()
    assert "acme-graders 1.2.0" in str(info.value) and "rival-graders 0.3.0" in str(info.value)


def test_a_plugin_grader_that_raises_while_grading_records_a_failed_result(
    site: Path, make_challenge: Callable[..., Path]
) -> None:
    declare(site, {"crashing": f"{HERE}:CrashingGrader"})
    root = make_challenge(lambda s: s.update(graders=[_grader_spec("crashing")], requirements=[]))
    events: list[tuple[str, dict[str, Any]]] = []
    # run_graders sets the evaluation's current grader and hands it each result: no run, plan
    # or sandbox needed
    job = GradingJob(
        run=None,  # type: ignore[arg-type]
        challenge=load_challenge(root, plugins.catalog()),
        plan=None,  # type: ignore[arg-type]
        evaluation=SimpleNamespace(  # type: ignore[arg-type]
            current_grader="", record_result=lambda name, result: None
        ),
        graders=plugins.graders(),
        report=lambda line: None,
        event=lambda kind, data: events.append((kind, data)),
    )
    run_graders(job)
    result = job.outcomes[0].result
    assert (result.score, result.passed) == (0.0, False)
    assert result.error == "grader crashing crashed: ZeroDivisionError: division by zero"
    assert "grader.crashed" in [kind for kind, _ in events]


def test_challenge_list_warns_about_a_broken_plugin_on_stderr(site: Path, tmp_path: Path) -> None:
    declare(site, {"wordcount": "acme_nope:WordCountGrader"})
    listed = subprocess.run(
        [sys.executable, "-m", "prodproven.runner.cli", "challenge", "list"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site), "PRODPROVEN_DATA_DIR": str(tmp_path)},
    )
    assert listed.returncode == 0
    assert listed.stderr == (
        "warning: grader plugin 'wordcount' (acme-graders 1.2.0, acme_nope:WordCountGrader) "
        "failed to load: ModuleNotFoundError: No module named 'acme_nope'\n"
    )


def _grader_spec(kind: str) -> dict[str, object]:
    return {"name": kind, "kind": kind, "competency": "deployment", "weight": 1, "params": {}}
