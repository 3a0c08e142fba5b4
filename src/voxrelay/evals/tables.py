"""The `voxrelay eval` tables: one column per model and split, then the failures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from rich.markup import escape
from rich.table import Table

from voxrelay.console import out
from voxrelay.evals.cases import STYLES
from voxrelay.evals.report import ModelSummary, Tally
from voxrelay.evals.task_report import TaskSummary
from voxrelay.evals.task_scoring import COUNTERS

S = TypeVar("S", ModelSummary, TaskSummary)

COUNTER_ROWS = {
    "junk_turns": "turns speaking tool syntax / JSON / notes",
    "repeated_calls": "identical calls repeated in a turn",
    "invented_executed": "executed invented grounded args",
    "errors": "errors and timeouts",
}


def columns(summaries: Sequence[S]) -> list[S]:
    """Each model's per-split summaries (dev, then test), or its whole one if it has none."""
    return [c for s in summaries for c in (list(s.splits.values()) or [s])]


def header(s: ModelSummary | TaskSummary) -> str:
    """A column title: the model and its split."""
    return f"{s.model}\n{s.split}"


def add_rows(
    table: Table, cols: Sequence[S], keys: Callable[[S], dict[str, Tally]], order: Sequence[str]
) -> None:
    """One row per key (in `order` first, then the rest sorted), a cell per column."""
    found = {k for c in cols for k in keys(c)}
    names = [k for k in order if k in found] + sorted(found - set(order))
    for key in names:
        table.add_row(key, *(cell(keys(c).get(key)) for c in cols))
    if names:
        table.add_section()


def print_report(summaries: Sequence[ModelSummary], order: Sequence[str] = ()) -> None:
    """Case accuracy per scenario, category and style (rows) per model and split, then failures."""
    cols = columns(summaries)
    table = Table("scenario / category / style", *map(header, cols), title="voxrelay eval")
    add_rows(table, cols, lambda c: c.by_scenario, ())
    add_rows(table, cols, lambda c: c.by_category, order)
    add_rows(table, cols, lambda c: c.by_style, STYLES)
    table.add_row("[bold]all", *(f"[bold]{cell(c.overall)}" for c in cols))
    table.add_row(
        "invented grounded args caught / executed / supervisor",
        *(f"{c.invented_caught} / {c.invented_executed} / {c.supervisor_invented}" for c in cols),
    )
    table.add_row("median s per case", *(f"{c.median_s:.1f}" for c in cols))
    out.print(table)
    for c in cols:
        for r in c.failures:
            out.print(
                f"[red]✖[/] {c.model} {r.case.split} {r.case.id}: "
                f"{escape('; '.join(r.verdict.reasons))}\n   [dim]{escape(r.verdict.summary)}[/]"
            )


def print_task_report(summaries: Sequence[TaskSummary]) -> None:
    """Task completion per scenario and goal, and the failure counters, then the failures."""
    cols = columns(summaries)
    table = Table("scenario / goal", *map(header, cols), title="voxrelay eval: tasks")
    add_rows(table, cols, lambda c: c.by_scenario, ())
    add_rows(table, cols, lambda c: c.by_goal, ())
    table.add_row("[bold]passed", *(f"[bold]{cell(c.overall)}" for c in cols))
    table.add_row("goal reached", *(cell(c.reached) for c in cols))
    for key in COUNTERS:
        table.add_row(COUNTER_ROWS[key], *(str(c.counters[key]) for c in cols))
    table.add_row(
        "invented args caught / supervisor",
        *(f"{c.caught} / {c.supervisor_invented}" for c in cols),
    )
    table.add_row("median turns", *(f"{c.median_turns:g}" for c in cols))
    table.add_row("median s per task", *(f"{c.median_s:.1f}" for c in cols))
    out.print(table)
    for c in cols:
        for r in c.failures:
            last = r.turns[-1] if r.turns else ()
            said = [e.get("text", "") for e in last if e.get("type") == "assistant_message"]
            out.print(
                f"[red]✖[/] {c.model} {r.task.split} {r.task.id}: "
                f"{escape('; '.join(r.verdict.reasons))}\n"
                f"   [dim]last reply: {escape(repr(said[-1][:100]) if said else 'none')}[/]"
            )


def cell(tally: Tally | None) -> str:
    """`correct/total (percent%)`, or a dash for none."""
    if tally is None or not tally.total:
        return "—"
    return f"{tally.correct}/{tally.total} ({tally.percent:.0f}%)"
