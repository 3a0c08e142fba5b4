"""Multi-turn eval tasks: a scripted caller with a goal, and what counts as reaching it.

Tasks are `[[task]]` tables in the same split folders as the cases (`evals/dev/`,
`evals/test/`; schema in `evals/README.md`). Loading validates every field and names the
file and task of anything wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxrelay.evals.caller import DEFAULT_FALLBACK, FACTS, Rule, template_fields
from voxrelay.evals.cases import STYLES, EvalCaseError, check_split, eval_files, read_toml

GOALS = ("return", "purchase", "order_status", "account", "policy", "store", "haiku", "human")
"""What the caller wants done; reports break task success down by these."""
TASK_KEYS = frozenset(
    {"id", "scenario", "goal", "style", "opening", "caller", "rule", "fallback"}
    | {"max_turns", "success", "agent", "state", "note"}
)
SUCCESS_KEYS = frozenset({"tool", "args", "agent", "reply_matching"})
DEFAULT_MAX_TURNS = 8
MAX_TURNS_LIMIT = 20

Bad = Callable[[str], EvalCaseError]


@dataclass(frozen=True)
class Success:
    """The goal; every field that is set must have happened at some turn of the conversation."""

    tool: str | None = None
    """An executed call of this tool whose result is not an `{"error": ...}` object."""
    args: dict[str, Any] = field(default_factory=dict)
    """Arguments that call must carry: a subset; strings compare case-insensitively, and a
    list's items must all be in the call's list."""
    agent: str | None = None
    """A handoff reached this agent."""
    reply_matching: str | None = None
    """An assistant message (that agent's, when `agent` is set) matched this regex
    (case-insensitive search)."""


@dataclass(frozen=True)
class Task:
    """A caller with a goal, scripted by rules, scored over up to `max_turns` turns."""

    id: str
    scenario: str
    goal: str
    """One of GOALS."""
    opening: str
    """The caller's first message."""
    success: Success
    facts: dict[str, str] = field(default_factory=dict)
    """The caller profile: FACTS keys (phone, dob, last4, ...) and how the caller says them."""
    rules: tuple[Rule, ...] = ()
    """Task-specific triggers, tried before the profile's facts."""
    fallback: tuple[str, ...] = DEFAULT_FALLBACK
    """Said in turn when nothing matches the agent's last message; the last one repeats."""
    max_turns: int = DEFAULT_MAX_TURNS
    """Caller turns (the opening included) before the task fails."""
    agent: str | None = None
    """Start with this agent instead of the scenario's first."""
    state: dict[str, Any] = field(default_factory=dict)
    """Initial session state."""
    style: str = ""
    note: str = ""
    split: str = "dev"
    source: Path = Path()


def load_tasks(directory: Path, scenario: str | None = None, split: str = "all") -> list[Task]:
    """The tasks of the chosen split(s), in file order; ids must be unique across files."""
    tasks: list[Task] = []
    seen: dict[str, Path] = {}
    for name, path in eval_files(directory):
        for task in load_task_file(path, name):
            if task.id in seen:
                raise EvalCaseError(
                    path, task.id, f"duplicate id (also in {seen[task.id]})", "task"
                )
            seen[task.id] = path
            tasks.append(task)
    check_split(directory, split, {name for name, _ in eval_files(directory)})
    return [
        t
        for t in tasks
        if (scenario is None or t.scenario == scenario) and split in ("all", t.split)
    ]


def load_task_file(path: Path, split: str = "dev") -> list[Task]:
    """The `[[task]]` tables of one TOML file (a file may hold cases, tasks or both)."""
    raw = read_toml(path)
    tables = raw.get("task", [])
    if not isinstance(tables, list):
        raise EvalCaseError(path, None, "'task' must be an array of tables: [[task]]")
    default = raw.get("scenario")
    return [parse_task(path, i, t, default, split) for i, t in enumerate(tables, 1)]


def parse_task(path: Path, index: int, raw: Any, default_scenario: Any, split: str) -> Task:
    """Validate one `[[task]]` table."""
    if not isinstance(raw, dict):
        raise EvalCaseError(path, f"#{index}", "a task must be a table", kind="task")
    name = raw.get("id")
    label = name if isinstance(name, str) and name else f"#{index}"

    def bad(problem: str) -> EvalCaseError:
        return EvalCaseError(path, label, problem, kind="task")

    _check_fields(raw, default_scenario, bad)
    facts = _facts(raw.get("caller", {}), bad)
    return Task(
        id=raw["id"],
        scenario=raw.get("scenario", default_scenario),
        goal=raw["goal"],
        opening=raw["opening"],
        success=_success(raw.get("success"), bad),
        facts=facts,
        rules=_rules(raw.get("rule", []), facts, bad),
        fallback=_fallback(raw.get("fallback", list(DEFAULT_FALLBACK)), bad),
        max_turns=raw.get("max_turns", DEFAULT_MAX_TURNS),
        agent=raw.get("agent"),
        state=raw.get("state", {}),
        style=raw.get("style", ""),
        note=raw.get("note", ""),
        split=split,
        source=path,
    )


def _check_fields(raw: dict[str, Any], default_scenario: Any, bad: Bad) -> None:
    """The task's plain fields: names, strings, goal, style, turn cap, state."""
    unknown = set(raw) - TASK_KEYS
    if unknown:
        raise bad(f"unknown keys {sorted(unknown)}; valid keys: {sorted(TASK_KEYS)}")
    for key in ("id", "opening"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise bad(f"{key!r} must be a non-empty string")
    scenario = raw.get("scenario", default_scenario)
    if not isinstance(scenario, str) or not scenario:
        raise bad("no scenario: set `scenario` at the top of the file or in the task")
    if raw.get("goal") not in GOALS:
        raise bad(f"goal must be one of {', '.join(GOALS)}; got {raw.get('goal')!r}")
    if raw.get("style", "") not in ("", *STYLES):
        raise bad(f"style must be one of {', '.join(STYLES)}; got {raw['style']!r}")
    turns = raw.get("max_turns", DEFAULT_MAX_TURNS)
    if type(turns) is not int or not 1 <= turns <= MAX_TURNS_LIMIT:
        raise bad(f"'max_turns' must be a whole number from 1 to {MAX_TURNS_LIMIT}")
    for key in ("agent", "note"):
        if not isinstance(raw.get(key, ""), str):
            raise bad(f"{key!r} must be a string")
    if not isinstance(raw.get("state", {}), dict):
        raise bad("'state' must be a table")


def _facts(raw: Any, bad: Bad) -> dict[str, str]:
    """The caller profile: known fact names with non-empty string values."""
    if not isinstance(raw, dict):
        raise bad("'caller' must be a table of facts, e.g. { phone = \"(206) 555-0142\" }")
    unknown = set(raw) - FACTS.keys()
    if unknown:
        raise bad(f"unknown caller facts {sorted(unknown)}; known: {', '.join(FACTS)}")
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise bad(f"caller fact {key!r} must be a non-empty string")
    return dict(raw)


def _rules(raw: Any, facts: dict[str, str], bad: Bad) -> tuple[Rule, ...]:
    """`[[task.rule]]` tables: a `when` regex and a `say` line that may use profile facts."""
    if not isinstance(raw, list):
        raise bad("'rule' must be an array of tables: [[task.rule]]")
    rules = []
    for n, rule in enumerate(raw, 1):
        if not isinstance(rule, dict) or set(rule) != {"when", "say"}:
            raise bad(f"rule #{n} must have exactly 'when' (a regex) and 'say' (a line)")
        if not all(isinstance(rule[k], str) and rule[k] for k in ("when", "say")):
            raise bad(f"rule #{n}: 'when' and 'say' must be non-empty strings")
        _check_regex(rule["when"], f"rule #{n} 'when'", bad)
        missing = template_fields(rule["say"]) - facts.keys()
        if missing:
            raise bad(f"rule #{n} 'say' uses {sorted(missing)}, not in the caller profile")
        rules.append(Rule(rule["when"], rule["say"]))
    return tuple(rules)


def _fallback(raw: Any, bad: Bad) -> tuple[str, ...]:
    """One fallback line or a list of them."""
    lines = [raw] if isinstance(raw, str) else raw
    if not isinstance(lines, list) or not lines:
        raise bad("'fallback' must be a line or a non-empty list of lines")
    if not all(isinstance(line, str) and line.strip() for line in lines):
        raise bad("'fallback' lines must be non-empty strings")
    return tuple(lines)


def _success(raw: Any, bad: Bad) -> Success:
    """The `success` table: at least one of tool, agent, reply_matching."""
    if not isinstance(raw, dict):
        raise bad("'success' must be a table, e.g. { tool = \"checkout\" }")
    unknown = set(raw) - SUCCESS_KEYS
    if unknown:
        raise bad(f"unknown success keys {sorted(unknown)}; valid: {sorted(SUCCESS_KEYS)}")
    if not {"tool", "agent", "reply_matching"} & set(raw):
        raise bad("'success' needs at least one of tool, agent, reply_matching")
    for key in ("tool", "agent", "reply_matching"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key]):
            raise bad(f"success {key!r} must be a non-empty string")
    if not isinstance(raw.get("args", {}), dict):
        raise bad("success 'args' must be a table")
    if raw.get("args") and "tool" not in raw:
        raise bad("success 'args' needs 'tool'")
    if "reply_matching" in raw:
        _check_regex(raw["reply_matching"], "success 'reply_matching'", bad)
    return Success(
        tool=raw.get("tool"),
        args=raw.get("args", {}),
        agent=raw.get("agent"),
        reply_matching=raw.get("reply_matching"),
    )


def _check_regex(pattern: str, what: str, bad: Bad) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise bad(f"{what} is not a valid regex: {exc}") from None
