"""Summaries of task results: completion per model, split, scenario and goal; failure counters."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from voxrelay.evals.report import Tally
from voxrelay.evals.task_runner import TaskResult
from voxrelay.evals.task_scoring import COUNTERS, transcript


@dataclass
class TaskSummary:
    """Everything reported about one model's tasks."""

    model: str
    split: str = "all"
    """`dev`, `test`, or `all` for the whole run."""
    overall: Tally = field(default_factory=Tally)
    """Passed: goal reached and every counter 0."""
    reached: Tally = field(default_factory=Tally)
    """Goal reached, counters aside."""
    by_scenario: dict[str, Tally] = field(default_factory=dict)
    by_goal: dict[str, Tally] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    """Each failure counter summed over the tasks."""
    caught: int = 0
    """Grounded arguments the runtime refused (not a failure)."""
    supervisor_invented: int = 0
    median_turns: float = 0.0
    """Median caller turns played."""
    median_s: float = 0.0
    """Median wall seconds per task."""
    failures: list[TaskResult] = field(default_factory=list)
    splits: dict[str, TaskSummary] = field(default_factory=dict)
    """The same summary for each split in the run (empty in a split's own summary)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = {
            "model": self.model,
            "split": self.split,
            "overall": self.overall.to_json(),
            "reached": self.reached.to_json(),
            "by_scenario": {k: v.to_json() for k, v in self.by_scenario.items()},
            "by_goal": {k: v.to_json() for k, v in self.by_goal.items()},
            "counters": dict(self.counters),
            "invented_caught": self.caught,
            "supervisor_invented": self.supervisor_invented,
            "median_turns": self.median_turns,
            "median_seconds_per_task": round(self.median_s, 2),
        }
        if self.splits:
            out["splits"] = {k: v.to_json() for k, v in self.splits.items()}
        return out


def summarize_tasks(model: str, results: Sequence[TaskResult]) -> TaskSummary:
    """Tally one model's task results, overall and per split (dev first)."""
    s = tally_tasks(model, "all", results)
    for split in sorted({r.task.split for r in results}):
        s.splits[split] = tally_tasks(model, split, [r for r in results if r.task.split == split])
    return s


def tally_tasks(model: str, split: str, results: Sequence[TaskResult]) -> TaskSummary:
    """One summary of `results`, labelled with its split."""
    s = TaskSummary(model, split)
    for r in results:
        v = r.verdict
        s.overall.add(v.passed)
        s.reached.add(v.reached)
        s.by_scenario.setdefault(r.task.scenario, Tally()).add(v.passed)
        s.by_goal.setdefault(r.task.goal, Tally()).add(v.passed)
        for key in COUNTERS:
            s.counters[key] += v.counters.get(key, 0)
        s.caught += v.caught
        s.supervisor_invented += len(r.supervisor_invented)
        if not v.passed:
            s.failures.append(r)
    if results:
        s.median_turns = statistics.median(r.verdict.turns for r in results)
        s.median_s = statistics.median(r.seconds for r in results)
    return s


def task_json(r: TaskResult) -> dict[str, Any]:
    """One task result as a JSON-ready dict, with the conversation turn by turn."""
    v = r.verdict
    return {
        "id": r.task.id,
        "model": r.model,
        "split": r.task.split,
        "scenario": r.task.scenario,
        "goal": r.task.goal,
        "passed": v.passed,
        "reached": v.reached,
        "reached_at_turn": v.reached_at,
        "turns": v.turns,
        "counters": dict(v.counters),
        "reasons": list(v.reasons),
        "junk": list(v.junk),
        "invented": [{"tool": i.tool, "argument": i.argument, "value": i.value} for i in v.invented]
        + [
            {"tool": i.tool, "argument": i.argument, "value": i.value, "supervisor": True}
            for i in r.supervisor_invented
        ],
        "seconds": round(r.seconds, 2),
        "transcript": transcript(r.turns),
    }
