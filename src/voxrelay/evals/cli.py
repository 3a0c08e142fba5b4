"""`voxrelay eval`: run the eval cases on the local models and print accuracy tables."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from voxrelay.config import Settings
from voxrelay.console import err, fail, out
from voxrelay.errors import ConfigError, VoxrelayError
from voxrelay.evals.cases import Case, load_cases
from voxrelay.evals.report import ModelSummary, case_json, summarize
from voxrelay.evals.runner import CaseResult, run_cases
from voxrelay.models import cache
from voxrelay.models.base import ChatModel

DEFAULT_MODELS = ("qwen2.5-0.5b", "qwen2.5-1.5b")


def register(app: typer.Typer) -> None:
    """Add the `eval` command to the voxrelay CLI."""
    app.command("eval")(eval_command)


def eval_command(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Local model name; repeat for several. Default: both."),
    ] = None,
    scenario: Annotated[
        str | None, typer.Option("--scenario", "-s", help="Only this scenario's cases.")
    ] = None,
    cases_dir: Annotated[
        Path, typer.Option("--cases", help="Directory of *.toml case files.")
    ] = Path("evals"),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Run only the first N cases.")
    ] = None,
) -> None:
    """Score routing, tool calls and handoff continuity of the scenarios on local models."""
    try:
        cases = load_cases(cases_dir, scenario)
    except VoxrelayError as exc:
        raise fail(str(exc)) from None
    if not cases:
        raise fail(f"no cases for scenario {scenario!r} in {cases_dir}")
    cases = cases[:limit] if limit else cases
    results: dict[str, list[CaseResult]] = {}
    for name in model or DEFAULT_MODELS:
        chat = load_local_model(name)
        if chat is not None:
            results[name] = asyncio.run(_run_with_progress(cases, chat, name))
            del chat
            gc.collect()  # free one model before loading the next
    if not results:
        raise typer.Exit(1)
    summaries = [summarize(name, r) for name, r in results.items()]
    if as_json:
        print(json.dumps(json_report(summaries, results), ensure_ascii=False, indent=2))
    else:
        print_report(summaries)


def load_local_model(name: str) -> ChatModel | None:
    """Load a prepared local model, or say why it is skipped and return None."""
    settings = Settings(llm=name)
    try:
        spec = cache.spec(name)
    except ConfigError as exc:
        err.print(f"[yellow]skip {name}:[/] {escape(str(exc))}")
        return None
    if not cache.is_ready(spec, settings.model_dir):
        err.print(
            f"[yellow]skip {name}:[/] not prepared in {settings.model_dir}; "
            f"run `voxrelay models --prepare --name {name}`"
        )
        return None
    from voxrelay.models.llama import LlamaChatModel

    return LlamaChatModel.from_settings(settings)


async def _run_with_progress(cases: list[Case], chat: ChatModel, name: str) -> list[CaseResult]:
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(f"{name}", total=len(cases))
        passed = 0

        def advance(r: CaseResult) -> None:
            nonlocal passed
            passed += int(r.verdict.passed)
            done = progress.tasks[task].completed + 1
            progress.update(
                task, advance=1, description=f"{name}: {passed}/{done} ok, last {r.case.id}"
            )
            if not err.is_terminal:  # no live bar: one line per case instead
                mark = "ok" if r.verdict.passed else "FAIL"
                err.print(f"{name} {done}/{len(cases)} {r.case.id}: {mark} ({r.seconds:.1f} s)")

        return await run_cases(cases, chat, name, on_result=advance)


def json_report(
    summaries: list[ModelSummary], results: dict[str, list[CaseResult]]
) -> dict[str, Any]:
    """The whole run as one JSON object: machine, summaries, every case."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "models": [s.to_json() for s in summaries],
        "cases": [case_json(r) for rs in results.values() for r in rs],
    }


def machine() -> dict[str, Any]:
    """Host facts that explain the timings: CPUs, load average, threads."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg": load,
        "llm_threads": Settings().llm_threads,
    }


def print_report(summaries: list[ModelSummary]) -> None:
    """Accuracy per scenario and category (rows) per model (columns), then the failures."""
    table = Table("scenario / category", *(s.model for s in summaries), title="voxrelay eval")
    scenarios = sorted({k for s in summaries for k in s.by_scenario})
    categories = sorted({k for s in summaries for k in s.by_category})
    for key in scenarios:
        table.add_row(key, *(_cell(s.by_scenario.get(key)) for s in summaries))
    table.add_section()
    for key in categories:
        table.add_row(key, *(_cell(s.by_category.get(key)) for s in summaries))
    table.add_section()
    table.add_row("[bold]all", *(f"[bold]{_cell(s.overall)}" for s in summaries))
    table.add_row(
        "invented grounded args caught / executed / supervisor",
        *(
            f"{s.invented_caught} / {s.invented_executed} / {s.supervisor_invented}"
            for s in summaries
        ),
    )
    table.add_row("median s per case", *(f"{s.median_s:.1f}" for s in summaries))
    out.print(table)
    for s in summaries:
        for r in s.failures:
            out.print(
                f"[red]✖[/] {s.model} {r.case.id}: {escape('; '.join(r.verdict.reasons))}\n"
                f"   [dim]{escape(r.verdict.summary)}[/]"
            )


def _cell(tally: Any) -> str:
    if tally is None or not tally.total:
        return "—"
    return f"{tally.correct}/{tally.total} ({tally.percent:.0f}%)"
