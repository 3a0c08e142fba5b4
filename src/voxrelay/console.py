"""Terminal output shared by the CLI commands: the consoles, errors, app events, load progress."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from voxrelay.errors import ConfigError, VoxrelayError
from voxrelay.session import events as app

out = Console()
"""Standard output: tables, conversations."""
err = Console(stderr=True, soft_wrap=True)
"""Standard error: errors, progress and notes (never wrapped, so messages stay greppable)."""


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error to stderr and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def fail_with(exc: VoxrelayError) -> typer.Exit:
    """Print a voxrelay error; exit code 2 for a wrong setting or name, 1 for anything else."""
    return fail(str(exc), code=2 if isinstance(exc, ConfigError) else 1)


@contextmanager
def loading(text: str = "loading models…") -> Iterator[Callable[[str], None]]:
    """A spinner on stderr while models load; yields the callback that names each step."""
    with err.status(text) as status:
        yield lambda step: status.update(step + "…")


def print_json(event: app.AppEventBase) -> None:
    """One app event as one JSON line on stdout."""
    print(json.dumps(event.to_json_dict(), ensure_ascii=False), flush=True)


def print_event(event: app.AppEventBase, echo_user: bool = True) -> None:
    """One app event, readable; `echo_user` also prints what the user said."""
    e = event
    if isinstance(e, app.UserMessage) and echo_user:
        out.print(f"[bold cyan]you[/] ▸ {escape(e.text)}")
    elif isinstance(e, app.AssistantMessage):
        out.print(f"[bold green]{e.agent}[/] ▸ {escape(e.text)}")
    elif isinstance(e, app.ToolCalled):
        out.print(f"  [dim]⚙ {e.name}({escape(e.arguments)})[/]")
    elif isinstance(e, app.ToolResult):
        mark = "↳" if e.ok else "✖"
        again = " (repeat: not run again)" if e.reused else ""
        out.print(f"  [dim]{mark}{again} {escape(e.output[:200])}[/]")
    elif isinstance(e, app.AgentChanged):
        out.print(f"  [magenta]⇄ {e.from_} → {e.to}[/] [dim]{escape(e.reason)}[/]")
    elif isinstance(e, app.GuardrailTripped):
        out.print(
            f"  [yellow]⚠ guardrail {e.name} blocked a reply"
            f" ({e.category}): {escape(e.rationale)}[/]"
        )
    elif isinstance(e, app.OutputSuppressed):
        out.print(f"  [yellow]⚠ a reply was held back: it was not speech ({e.reason})[/]")
    elif isinstance(e, app.ErrorOccurred):
        out.print(f"  [red]✖ {escape(e.text)}[/]")
