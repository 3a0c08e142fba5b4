"""`voxrelay eval`: run the eval cases (and tasks) on the local models and print tables."""

from __future__ import annotations

import asyncio
import enum
import gc
import json
import os
import platform
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from voxrelay.config import Settings
from voxrelay.console import err, fail
from voxrelay.errors import ConfigError, VoxrelayError
from voxrelay.evals.cases import CATEGORIES, Case, load_cases
from voxrelay.evals.report import ModelSummary, case_json, summarize
from voxrelay.evals.runner import CaseResult, run_cases
from voxrelay.evals.tables import print_report, print_task_report
from voxrelay.evals.task_report import TaskSummary, summarize_tasks, task_json
from voxrelay.evals.task_runner import TaskResult, run_tasks
from voxrelay.evals.tasks import Task, load_tasks
from voxrelay.models import cache
from voxrelay.models.base import ChatModel

DEFAULT_MODELS = ("qwen2.5-0.5b", "qwen2.5-1.5b")


class Split(enum.StrEnum):
    """Which cases and tasks to run."""

    dev = "dev"
    test = "test"
    all = "all"


def register(app: typer.Typer) -> None:
    """Add the `eval` command to the voxrelay CLI."""
    app.command("eval")(eval_command)


def eval_command(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Local model name; repeat for several. Default: both."),
    ] = None,
    scenario: Annotated[
        str | None, typer.Option("--scenario", "-s", help="Only this scenario's cases and tasks.")
    ] = None,
    cases_dir: Annotated[
        Path, typer.Option("--cases", help="Directory of dev/ and test/ case files.")
    ] = Path("evals"),
    split: Annotated[
        Split, typer.Option("--split", help="dev (tuned on), test (held out) or all.")
    ] = Split.all,
    tasks: Annotated[
        bool, typer.Option("--tasks", help="Also run the multi-turn tasks (slow).")
    ] = False,
    tasks_only: Annotated[
        bool, typer.Option("--tasks-only", help="Run only the multi-turn tasks.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Run only the first N cases (and tasks).")
    ] = None,
) -> None:
    """Score routing, tool calls, handoff continuity and task completion on local models."""
    cases, task_list = load_selection(
        cases_dir, scenario, split.value, cases=not tasks_only, tasks=tasks or tasks_only
    )
    cases, task_list = cases[:limit], task_list[:limit]
    results: dict[str, list[CaseResult]] = {}
    task_results: dict[str, list[TaskResult]] = {}
    for name in model or DEFAULT_MODELS:
        chat = load_local_model(name)
        if chat is not None:
            # one event loop for both: the model's lock belongs to the loop that first used it
            results[name], task_results[name] = asyncio.run(_run_all(cases, task_list, chat, name))
            del chat
            gc.collect()  # free one model before loading the next
    if not results:
        raise typer.Exit(1)
    summaries = [summarize(name, r) for name, r in results.items() if r]
    task_summaries = [summarize_tasks(name, r) for name, r in task_results.items() if r]
    if as_json:
        report = json_report(summaries, results, task_summaries, task_results)
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if summaries:
        print_report(summaries, CATEGORIES)
    if task_summaries:
        print_task_report(task_summaries)


def load_selection(
    directory: Path, scenario: str | None, split: str, *, cases: bool, tasks: bool
) -> tuple[list[Case], list[Task]]:
    """The cases and tasks asked for; a malformed file or an empty choice exits."""
    try:
        found = load_cases(directory, scenario, split)  # validates every case file
        task_list = load_tasks(directory, scenario, split) if tasks else []
    except VoxrelayError as exc:
        raise fail(str(exc)) from None
    which = "" if split == "all" else f"{split} "
    where = (f" for scenario {scenario!r}" if scenario else "") + f" in {directory}"
    if cases and not found:
        raise fail(f"no {which}cases{where}")
    if tasks and not task_list:
        raise fail(f"no {which}tasks{where}")
    return (found if cases else []), task_list


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


Item = TypeVar("Item", Case, Task)
Result = TypeVar("Result", CaseResult, TaskResult)
Runner = Callable[..., Awaitable[list[Result]]]


async def _run_all(
    cases: Sequence[Case], task_list: Sequence[Task], chat: ChatModel, name: str
) -> tuple[list[CaseResult], list[TaskResult]]:
    """The cases, then the tasks, on one model in one event loop."""
    case_results = await _with_progress(cases, chat, name, run_cases)
    return case_results, await _with_progress(task_list, chat, name, run_tasks)


async def _with_progress(
    items: Sequence[Item], chat: ChatModel, name: str, run: Runner[Result]
) -> list[Result]:
    """Run `items` with `run` (run_cases or run_tasks) under a progress bar on stderr."""
    if not items:
        return []
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        bar = progress.add_task(f"{name}", total=len(items))
        passed = 0

        def advance(r: Result) -> None:
            nonlocal passed
            item = r.case if isinstance(r, CaseResult) else r.task
            passed += int(r.verdict.passed)
            done = progress.tasks[bar].completed + 1
            progress.update(
                bar, advance=1, description=f"{name}: {passed}/{done} ok, last {item.id}"
            )
            if not err.is_terminal:  # no live bar: one line per item instead
                mark = "ok" if r.verdict.passed else "FAIL"
                err.print(f"{name} {done}/{len(items)} {item.id}: {mark} ({r.seconds:.1f} s)")

        return await run(items, chat, name, on_result=advance)


def json_report(
    summaries: list[ModelSummary],
    results: dict[str, list[CaseResult]],
    task_summaries: list[TaskSummary] | None = None,
    task_results: dict[str, list[TaskResult]] | None = None,
) -> dict[str, Any]:
    """The whole run as one JSON object: machine, summaries (each with its splits), every item."""
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "models": [s.to_json() for s in summaries],
        "cases": [case_json(r) for rs in results.values() for r in rs],
    }
    if task_summaries:
        report["task_models"] = [s.to_json() for s in task_summaries]
        report["tasks"] = [task_json(r) for rs in (task_results or {}).values() for r in rs]
    return report


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
