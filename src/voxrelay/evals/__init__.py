"""Evaluation of routing, tool calls and handoff continuity on real chat models."""

from voxrelay.evals.cases import CATEGORIES, Case, EvalCaseError, Expectation, load_cases
from voxrelay.evals.report import ModelSummary, Tally, summarize
from voxrelay.evals.runner import CaseResult, run_case, run_cases
from voxrelay.evals.scoring import Turn, Verdict, score

__all__ = [
    "CATEGORIES",
    "Case",
    "CaseResult",
    "EvalCaseError",
    "Expectation",
    "ModelSummary",
    "Tally",
    "Turn",
    "Verdict",
    "load_cases",
    "run_case",
    "run_cases",
    "score",
    "summarize",
]
