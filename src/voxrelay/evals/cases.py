"""Eval cases: one user turn against a scenario, with what the agents must (not) do.

Cases live in TOML files in two splits, `evals/dev/*.toml` (tuned on) and `evals/test/*.toml`
(held out); schema in `evals/README.md`. Loading validates every field and names the file
and case of anything wrong.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxrelay.errors import VoxrelayError

CATEGORIES = ("routing", "tool_call", "missing_info", "small_talk", "continuity", "facts")
"""What a case measures; reports break accuracy down by these."""
STYLES = ("polite", "terse", "indirect", "emotional", "asr")
"""How a case's message is worded (`asr`: speech-recognition noise); optional, reported."""
SPLITS = ("dev", "test")
"""`dev` is what prompts are tuned on; `test` is held out and never tuned on."""
SPLIT_CHOICES = (*SPLITS, "all")
FILE_KEYS = frozenset({"scenario", "case", "task"})
"""Top-level keys of an eval file: `[[case]]` tables here, `[[task]]` tables in tasks.py."""

EXPECT_KEYS = frozenset(
    {"handoff_to", "tool", "args", "no_tool", "not_tool", "reply_matching", "reply_not_matching"}
)
CASE_KEYS = frozenset(
    {"id", "scenario", "category", "style", "agent", "prior", "state", "message", "note"}
    | EXPECT_KEYS
)


class EvalCaseError(VoxrelayError):
    """A case file is malformed; the message names the file and the case (or task)."""

    def __init__(self, path: Path, case: str | None, problem: str, kind: str = "case") -> None:
        self.path = path
        self.case = case
        where = f"{path}" + (f", {kind} {case!r}" if case else "")
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Expectation:
    """What must hold for the turn; every field that is set must pass."""

    handoff_to: str | None = None
    """The turn hands the caller to this agent (an `agent_changed` event)."""
    tool: str | None = None
    """The turn's first tool call (handoff tools included) is this tool."""
    args: dict[str, Any] = field(default_factory=dict)
    """Arguments the first tool call must carry (a subset, compared as JSON values)."""
    no_tool: bool = False
    """The turn calls no tool at all."""
    not_tool: tuple[str, ...] = ()
    """These tools are not executed (a call refused for ungrounded arguments is fine)."""
    reply_matching: str | None = None
    """The turn's first assistant message matches this regex (case-insensitive search)."""
    reply_not_matching: str | None = None
    """The turn's first assistant message exists and does not match this regex."""


@dataclass(frozen=True)
class Case:
    """One scored user turn."""

    id: str
    scenario: str
    category: str
    message: str
    """The scored user message."""
    expect: Expectation
    agent: str | None = None
    """Start with this agent instead of the scenario's first."""
    prior: tuple[str, ...] = ()
    """User turns run first, unscored (their replies become context)."""
    state: dict[str, Any] = field(default_factory=dict)
    """Initial session state (e.g. an already verified customer)."""
    note: str = ""
    style: str = ""
    """How the message is worded (one of STYLES), or "" when not labelled."""
    split: str = "dev"
    """`dev` or `test`: the folder the case came from."""
    source: Path = Path()
    """The file the case came from."""


def load_cases(directory: Path, scenario: str | None = None, split: str = "all") -> list[Case]:
    """The cases of the chosen split(s), in file order; ids must be unique across all files."""
    cases: list[Case] = []
    seen: dict[str, Path] = {}
    for name, path in eval_files(directory):
        for case in load_file(path, name):
            if case.id in seen:
                raise EvalCaseError(path, case.id, f"duplicate id (also in {seen[case.id]})")
            seen[case.id] = path
            cases.append(case)
    check_split(directory, split, {c.split for c in cases})
    return [
        c
        for c in cases
        if (scenario is None or c.scenario == scenario) and split in ("all", c.split)
    ]


def eval_files(directory: Path) -> list[tuple[str, Path]]:
    """(split, file) for every `*.toml` in `dev/` and `test/`, or in a directory without them.

    A directory with neither folder is one split: `test` if it is named so, else `dev`.
    """
    folders = [(s, directory / s) for s in SPLITS if (directory / s).is_dir()]
    if folders and any(directory.glob("*.toml")):
        raise EvalCaseError(directory, None, "*.toml files next to dev/ and test/: move them in")
    if not folders:
        folders = [("test" if directory.name == "test" else "dev", directory)]
    files = [(s, p) for s, folder in folders for p in sorted(folder.glob("*.toml"))]
    if not files:
        raise EvalCaseError(directory, None, "no *.toml case files here")
    return files


def check_split(directory: Path, split: str, found: set[str]) -> None:
    """Refuse an unknown split name, or one with no cases in `directory`."""
    if split not in SPLIT_CHOICES:
        raise EvalCaseError(directory, None, f"split must be one of {', '.join(SPLIT_CHOICES)}")
    if split != "all" and split not in found:
        raise EvalCaseError(directory, None, f"no {split} cases (expected {split}/*.toml)")


def read_toml(path: Path) -> dict[str, Any]:
    """One eval file's TOML, with its top-level keys checked."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EvalCaseError(path, None, f"cannot read TOML: {exc}") from None
    unknown = set(raw) - FILE_KEYS
    if unknown:
        raise EvalCaseError(path, None, f"unknown top-level keys {sorted(unknown)}")
    if not raw.get("case") and not raw.get("task"):
        raise EvalCaseError(path, None, "no [[case]] or [[task]] tables")
    return raw


def load_file(path: Path, split: str = "dev") -> list[Case]:
    """The cases of one TOML file: an optional top-level `scenario` and `[[case]]` tables."""
    raw = read_toml(path)
    tables = raw.get("case", [])
    if not isinstance(tables, list):
        raise EvalCaseError(path, None, "'case' must be an array of tables: [[case]]")
    default = raw.get("scenario")
    return [parse_case(path, i, t, default, split) for i, t in enumerate(tables, 1)]


def parse_case(path: Path, index: int, raw: Any, default_scenario: Any, split: str = "dev") -> Case:
    """Validate one `[[case]]` table."""
    if not isinstance(raw, dict):
        raise EvalCaseError(path, f"#{index}", "a case must be a table")
    name = raw.get("id")
    label = name if isinstance(name, str) and name else f"#{index}"

    def bad(problem: str) -> EvalCaseError:
        return EvalCaseError(path, label, problem)

    unknown = set(raw) - CASE_KEYS
    if unknown:
        raise bad(f"unknown keys {sorted(unknown)}; valid keys: {sorted(CASE_KEYS)}")
    for key in ("id", "message"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise bad(f"{key!r} must be a non-empty string")
    scenario = raw.get("scenario", default_scenario)
    if not isinstance(scenario, str) or not scenario:
        raise bad("no scenario: set `scenario` at the top of the file or in the case")
    category = raw.get("category")
    if category not in CATEGORIES:
        raise bad(f"category must be one of {', '.join(CATEGORIES)}; got {category!r}")
    prior = raw.get("prior", [])
    if not isinstance(prior, list) or not all(isinstance(p, str) for p in prior):
        raise bad("'prior' must be a list of strings")
    for key in ("state", "args"):
        if not isinstance(raw.get(key, {}), dict):
            raise bad(f"{key!r} must be a table")
    for key in ("agent", "note"):
        if not isinstance(raw.get(key, ""), str):
            raise bad(f"{key!r} must be a string")
    if raw.get("style", "") not in ("", *STYLES):
        raise bad(f"style must be one of {', '.join(STYLES)}; got {raw['style']!r}")
    return Case(
        id=raw["id"],
        scenario=scenario,
        category=category,
        message=raw["message"],
        expect=parse_expectation(raw, bad),
        agent=raw.get("agent"),
        prior=tuple(prior),
        state=raw.get("state", {}),
        note=raw.get("note", ""),
        style=raw.get("style", ""),
        split=split,
        source=path,
    )


def parse_expectation(raw: dict[str, Any], bad: Callable[[str], EvalCaseError]) -> Expectation:
    """The expectation fields of a case table; at least one must be set."""
    if not EXPECT_KEYS & set(raw):
        raise bad(f"no expectation: set at least one of {sorted(EXPECT_KEYS)}")
    for key in ("handoff_to", "tool", "reply_matching", "reply_not_matching"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key]):
            raise bad(f"{key!r} must be a non-empty string")
    not_tool = raw.get("not_tool", [])
    not_tool = [not_tool] if isinstance(not_tool, str) else not_tool
    if not isinstance(not_tool, list) or not all(isinstance(t, str) and t for t in not_tool):
        raise bad("'not_tool' must be a tool name or a list of tool names")
    if "no_tool" in raw and not isinstance(raw["no_tool"], bool):
        raise bad("'no_tool' must be true or false")
    if raw.get("args") and "tool" not in raw:
        raise bad("'args' needs 'tool'")
    if raw.get("no_tool") and ({"tool", "handoff_to"} & set(raw)):
        raise bad("'no_tool' contradicts 'tool'/'handoff_to'")
    for key in ("reply_matching", "reply_not_matching"):
        if key in raw:
            try:
                re.compile(raw[key])
            except re.error as exc:
                raise bad(f"{key!r} is not a valid regex: {exc}") from None
    return Expectation(
        handoff_to=raw.get("handoff_to"),
        tool=raw.get("tool"),
        args=raw.get("args", {}),
        no_tool=raw.get("no_tool", False),
        not_tool=tuple(not_tool),
        reply_matching=raw.get("reply_matching"),
        reply_not_matching=raw.get("reply_not_matching"),
    )
