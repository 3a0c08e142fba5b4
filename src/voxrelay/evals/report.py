"""Summaries of eval results: accuracy per model, split, scenario, category and style."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from voxrelay.evals.runner import CaseResult


@dataclass
class Tally:
    """Correct out of total."""

    correct: int = 0
    total: int = 0

    def add(self, passed: bool) -> None:
        """Count one case."""
        self.total += 1
        self.correct += int(passed)

    @property
    def percent(self) -> float:
        """Correct as a percentage of total (0 when empty)."""
        return 100.0 * self.correct / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        """`{correct, total, percent}`."""
        return {"correct": self.correct, "total": self.total, "percent": round(self.percent, 1)}


@dataclass
class ModelSummary:
    """Everything reported for one model."""

    model: str
    split: str = "all"
    """`dev`, `test`, or `all` for the whole run."""
    overall: Tally = field(default_factory=Tally)
    by_scenario: dict[str, Tally] = field(default_factory=dict)
    by_category: dict[str, Tally] = field(default_factory=dict)
    by_style: dict[str, Tally] = field(default_factory=dict)
    """Only cases labelled with a style."""
    invented_caught: int = 0
    """Grounded arguments the runtime refused (`argument_refused` events)."""
    invented_executed: int = 0
    """Executed tool calls with a grounded argument the caller never said."""
    supervisor_invented: int = 0
    """Such arguments in the chat supervisor's own tool calls (inside its tool)."""
    median_s: float = 0.0
    """Median wall seconds per case."""
    failures: list[CaseResult] = field(default_factory=list)
    splits: dict[str, ModelSummary] = field(default_factory=dict)
    """The same summary for each split in the run (empty in a split's own summary)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (failures as ids with reasons)."""
        out: dict[str, Any] = {
            "model": self.model,
            "split": self.split,
            "overall": self.overall.to_json(),
            "by_scenario": {k: v.to_json() for k, v in self.by_scenario.items()},
            "by_category": {k: v.to_json() for k, v in self.by_category.items()},
            "by_style": {k: v.to_json() for k, v in self.by_style.items()},
            "invented_grounded_arguments": {
                "caught": self.invented_caught,
                "executed": self.invented_executed,
                "supervisor": self.supervisor_invented,
            },
            "median_seconds_per_case": round(self.median_s, 2),
        }
        if self.splits:
            out["splits"] = {k: v.to_json() for k, v in self.splits.items()}
        return out


def summarize(model: str, results: Sequence[CaseResult]) -> ModelSummary:
    """Tally one model's results, overall and per split (dev first)."""
    s = tally(model, "all", results)
    for split in sorted({r.case.split for r in results}):
        s.splits[split] = tally(model, split, [r for r in results if r.case.split == split])
    return s


def tally(model: str, split: str, results: Sequence[CaseResult]) -> ModelSummary:
    """One summary of `results`, labelled with its split."""
    s = ModelSummary(model, split)
    for r in results:
        passed = r.verdict.passed
        s.overall.add(passed)
        s.by_scenario.setdefault(r.case.scenario, Tally()).add(passed)
        s.by_category.setdefault(r.case.category, Tally()).add(passed)
        if r.case.style:
            s.by_style.setdefault(r.case.style, Tally()).add(passed)
        s.invented_caught += sum(1 for i in r.verdict.invented if i.caught)
        s.invented_executed += sum(1 for i in r.verdict.invented if not i.caught)
        s.supervisor_invented += len(r.supervisor_invented)
        if not passed:
            s.failures.append(r)
    s.median_s = statistics.median(r.seconds for r in results) if results else 0.0
    return s


def case_json(r: CaseResult) -> dict[str, Any]:
    """One case result as a JSON-ready dict."""
    return {
        "id": r.case.id,
        "model": r.model,
        "split": r.case.split,
        "scenario": r.case.scenario,
        "category": r.case.category,
        "style": r.case.style,
        "passed": r.verdict.passed,
        "reasons": list(r.verdict.reasons),
        "summary": r.verdict.summary,
        "seconds": round(r.seconds, 2),
        "invented": [
            {"tool": i.tool, "argument": i.argument, "value": i.value, "caught": i.caught}
            for i in r.verdict.invented
        ]
        + [
            {"tool": i.tool, "argument": i.argument, "value": i.value, "supervisor": True}
            for i in r.supervisor_invented
        ],
    }
