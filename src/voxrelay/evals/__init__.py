"""Evaluation of routing, tool calls, handoff continuity and task completion on chat models."""

from voxrelay.evals.caller import FACTS, Caller, Rule
from voxrelay.evals.cases import (
    CATEGORIES,
    SPLITS,
    STYLES,
    Case,
    EvalCaseError,
    Expectation,
    load_cases,
)
from voxrelay.evals.junk import Junk, find_junk, is_junk
from voxrelay.evals.report import ModelSummary, Tally, summarize
from voxrelay.evals.runner import CaseResult, run_case, run_cases
from voxrelay.evals.scoring import Turn, Verdict, score
from voxrelay.evals.task_report import TaskSummary, summarize_tasks
from voxrelay.evals.task_runner import TaskResult, run_task, run_tasks
from voxrelay.evals.task_scoring import COUNTERS, TaskVerdict, goal_reached, score_task
from voxrelay.evals.tasks import GOALS, Success, Task, load_tasks

__all__ = [
    "CATEGORIES",
    "COUNTERS",
    "FACTS",
    "GOALS",
    "SPLITS",
    "STYLES",
    "Caller",
    "Case",
    "CaseResult",
    "EvalCaseError",
    "Expectation",
    "Junk",
    "ModelSummary",
    "Rule",
    "Success",
    "Tally",
    "Task",
    "TaskResult",
    "TaskSummary",
    "TaskVerdict",
    "Turn",
    "Verdict",
    "find_junk",
    "goal_reached",
    "is_junk",
    "load_cases",
    "load_tasks",
    "run_case",
    "run_cases",
    "run_task",
    "run_tasks",
    "score",
    "score_task",
    "summarize",
    "summarize_tasks",
]
