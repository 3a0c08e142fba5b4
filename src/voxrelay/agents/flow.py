"""Structured flows: an agent's steps, each with short instructions and a few actions (I/O-free).

A small model does well when it chooses among one to three actions under a short prompt. An
agent with `steps` offers only the current step's tools; a step ends when a transition's tool
succeeds and its condition on session state holds (verified → find the order → start the
return). Agents without steps work as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from voxrelay.agents.context import RunContext
from voxrelay.errors import ConfigError

Condition = Callable[[RunContext], bool]
"""A test on session state, e.g. "the caller is verified"."""
Line = str | Callable[[RunContext], str | None]
"""What the agent says on entering a step: fixed words, or words made from session state."""


@dataclass(frozen=True)
class Transition:
    """Go to step `to` after `after` succeeded (any tool, if None) and `when` holds."""

    to: str
    after: str | None = None
    """A tool of the step; None means after any tool, and also whenever the step is entered."""
    when: Condition | None = None
    """A condition on session state; None means always."""


@dataclass(frozen=True)
class Step:
    """One stage of an agent's job: what to do now, and the only tools on offer."""

    name: str
    instructions: str
    tools: tuple[str, ...] = ()
    """Names of the agent's tools and `transfer_to_*` tools offered in this step."""
    next: tuple[Transition, ...] = field(default_factory=tuple)
    call: str | Callable[[RunContext], str | None] | None = None
    """A tool the step's first response calls, on entering the step and after each caller turn
    (or a function of state that names one, or None).

    Its arguments still come from the caller: the grounding check refuses values they never
    said, and the agent then asks for them in words. The instructions need not name the tool.
    """
    call_on_entry: bool = True
    """False: the call waits for the caller's next words (the step first asks in words)."""
    say: Line | None = None
    """Said on entering the step, instead of a reply the model writes (after a due call).

    Exact words keep a small model's flow on track where it matters: the question that
    opens a step, or a tool's outcome read back. None lets the model reply.
    """


def check_steps(agent_name: str, steps: Sequence[Step], tool_names: set[str]) -> None:
    """Raise ConfigError naming the agent and step when a tool or a target is unknown."""
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise ConfigError(f"agent {agent_name!r} has two steps with the same name: {names}")
    for step in steps:
        where = f"agent {agent_name!r}, step {step.name!r}"
        for tool in step.tools:
            if tool not in tool_names:
                known = ", ".join(sorted(tool_names)) or "none"
                raise ConfigError(f"{where}: unknown tool {tool!r}; the agent has: {known}")
        if isinstance(step.call, str) and step.call not in step.tools:
            raise ConfigError(f"{where}: call={step.call!r} is not one of the step's tools")
        for transition in step.next:
            if transition.to not in names:
                raise ConfigError(f"{where}: unknown step {transition.to!r}; steps: {names}")
            if transition.after is not None and transition.after not in step.tools:
                raise ConfigError(
                    f"{where}: a transition follows {transition.after!r}, which the step does "
                    "not offer; add it to the step's tools"
                )


def step_named(steps: Sequence[Step], name: str | None) -> Step | None:
    """The step called `name`, the first step when `name` is None, or None without steps."""
    if not steps:
        return None
    return next((s for s in steps if s.name == name), steps[0])


def advance(
    steps: Sequence[Step], step: Step, ctx: RunContext, tool: str | None, ok: bool = True
) -> Step:
    """The step after `tool` finished (ok or not); `tool=None` checks on entering `step`.

    Follows transitions until none applies, at most once per step (no loops).
    """
    seen = {step.name}
    current = step
    while (target := _taken(current, ctx, tool, ok)) is not None and target not in seen:
        seen.add(target)
        current = step_named(steps, target) or current
        tool = None  # later steps are entered, not finished
    return current


def _taken(step: Step, ctx: RunContext, tool: str | None, ok: bool) -> str | None:
    for transition in step.next:
        if transition.after is not None and (transition.after != tool or not ok):
            continue
        if transition.when is None or transition.when(ctx):
            return transition.to
    return None


def line_for(step: Step, ctx: RunContext) -> str | None:
    """The words `step` says on entry, if any (a function of state may decline with None)."""
    if step.say is None:
        return None
    return step.say if isinstance(step.say, str) else step.say(ctx)


def call_for(step: Step, ctx: RunContext) -> str | None:
    """The tool `step` calls first now, if any."""
    if step.call is None or isinstance(step.call, str):
        return step.call
    return step.call(ctx)
