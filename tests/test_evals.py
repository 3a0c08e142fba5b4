"""Eval cases load and validate; the runner scores scripted turns as expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from voxrelay.evals import (
    CATEGORIES,
    STYLES,
    Case,
    CaseResult,
    EvalCaseError,
    load_cases,
    run_case,
    summarize,
)
from voxrelay.evals.cases import load_file
from voxrelay.evals.cli import json_report, register
from voxrelay.evals.scoring import Turn, Verdict, score
from voxrelay.evals.tables import print_report
from voxrelay.scenarios import load_scenario, scenario_names
from voxrelay.testing import ScriptedChatModel, call, say

EVALS = Path(__file__).resolve().parent.parent / "evals"
PHONE = "(206) 555-0142"
GREETING = r"^\W*(hi|hello|welcome)\b"


def write(tmp_path: Path, text: str, name: str = "cases.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def case_from(tmp_path: Path, body: str, scenario: str = "customer_service_retail") -> Case:
    path = write(tmp_path, f'scenario = "{scenario}"\n[[case]]\n{body}')
    (case,) = load_file(path)
    return case


# ---- case files ------------------------------------------------------------------------------


def test_every_case_file_parses_with_enough_cases_in_all_scenarios() -> None:
    cases = load_cases(EVALS)
    dev, test = load_cases(EVALS, split="dev"), load_cases(EVALS, split="test")
    assert len(dev) >= 78 and len(test) >= 200 and len(cases) == len(dev) + len(test)
    assert {c.split for c in dev} == {"dev"} and {c.split for c in test} == {"test"}
    for split in (dev, test):
        assert {c.scenario for c in split} == set(scenario_names())
        assert {c.category for c in split} == set(CATEGORIES)


def test_the_test_split_covers_every_style_in_every_scenario_and_is_marked_held_out() -> None:
    test = load_cases(EVALS, split="test")
    for scenario in scenario_names():
        assert {c.style for c in test if c.scenario == scenario} == set(STYLES), scenario
    for path in sorted((EVALS / "test").glob("*.toml")):
        assert path.read_text("utf-8").startswith("# HELD OUT: test split."), path


def test_case_names_resolve_in_their_scenarios() -> None:
    for case in load_cases(EVALS):
        scenario = load_scenario(case.scenario)
        agent = scenario.agent(case.agent or scenario.start_agent_name)
        names = {t.name for a in scenario.agents for t in scenario.tools_for(a)}
        if case.expect.handoff_to:
            assert case.expect.handoff_to in agent.handoff_names(), case.id
        for tool in [case.expect.tool, *case.expect.not_tool]:
            assert tool is None or tool in names, (case.id, tool)


def test_a_case_loads_with_its_defaults(tmp_path: Path) -> None:
    case = case_from(
        tmp_path,
        'id = "r1"\ncategory = "routing"\nmessage = "I want a refund"\nhandoff_to = "returns"\n'
        'not_tool = "lookup_orders"\n',
    )
    assert (case.id, case.scenario, case.agent, case.prior) == (
        "r1",
        "customer_service_retail",
        None,
        (),
    )
    assert case.expect.handoff_to == "returns"
    assert case.expect.not_tool == ("lookup_orders",)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('category = "routing"\nmessage = "x"\nno_tool = true\n', "'id'"),
        ('id = "c1"\ncategory = "routing"\nmessage = "x"\n', "no expectation"),
        ('id = "c1"\ncategory = "chitchat"\nmessage = "x"\nno_tool = true\n', "category"),
        ('id = "c1"\ncategory = "routing"\nmessage = "x"\nno_tool = true\nextra = 1\n', "extra"),
        ('id = "c1"\ncategory = "routing"\nmessage = "x"\nreply_matching = "("\n', "regex"),
        ('id = "c1"\ncategory = "tool_call"\nmessage = "x"\nargs = { a = 1 }\n', "needs 'tool'"),
        ('id = "c1"\ncategory = "routing"\nmessage = "x"\nno_tool = true\ntool = "t"\n', "contra"),
    ],
)
def test_a_malformed_case_names_file_and_case(tmp_path: Path, body: str, problem: str) -> None:
    path = write(tmp_path, f'scenario = "simple_handoff"\n[[case]]\n{body}', "bad.toml")
    with pytest.raises(EvalCaseError) as info:
        load_file(path)
    message = str(info.value)
    assert "bad.toml" in message
    assert problem in message
    assert ("'c1'" in message) or ("#1" in message)


def test_broken_toml_and_duplicate_ids_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "[[case]\n", "a.toml")
    with pytest.raises(EvalCaseError, match=r"a\.toml: cannot read TOML"):
        load_cases(tmp_path)
    one = '[[case]]\nid = "same"\ncategory = "small_talk"\nmessage = "hi"\nno_tool = true\n'
    write(tmp_path, f'scenario = "simple_handoff"\n{one}', "a.toml")
    write(tmp_path, f'scenario = "simple_handoff"\n{one}', "b.toml")
    with pytest.raises(EvalCaseError, match=r"b\.toml, case 'same': duplicate id"):
        load_cases(tmp_path)


ONE = '[[case]]\nid = "{}"\ncategory = "small_talk"\nmessage = "hi"\nno_tool = true\n'


def split_dirs(tmp_path: Path) -> Path:
    for split in ("dev", "test"):
        (tmp_path / split).mkdir()
        write(tmp_path / split, f'scenario = "simple_handoff"\n{ONE.format(split)}')
    return tmp_path


def test_cases_load_by_split(tmp_path: Path) -> None:
    root = split_dirs(tmp_path)
    assert [(c.id, c.split) for c in load_cases(root)] == [("dev", "dev"), ("test", "test")]
    assert [c.id for c in load_cases(root, split="test")] == ["test"]
    assert [c.split for c in load_cases(root / "test")] == ["test"]
    assert [c.split for c in load_cases(root / "dev")] == ["dev"]
    with pytest.raises(EvalCaseError, match="split must be one of dev, test, all"):
        load_cases(root, split="train")


def test_a_flat_directory_is_dev_and_has_no_test_split(tmp_path: Path) -> None:
    write(tmp_path, f'scenario = "simple_handoff"\n{ONE.format("c")}')
    assert [c.split for c in load_cases(tmp_path)] == ["dev"]
    with pytest.raises(EvalCaseError, match=r"no test cases \(expected test/\*\.toml\)"):
        load_cases(tmp_path, split="test")


def test_case_files_next_to_the_split_folders_are_refused(tmp_path: Path) -> None:
    root = split_dirs(tmp_path)
    write(root, f'scenario = "simple_handoff"\n{ONE.format("stray")}', "stray.toml")
    with pytest.raises(EvalCaseError, match="next to dev/ and test/"):
        load_cases(root)


def test_an_unknown_style_is_refused(tmp_path: Path) -> None:
    body = ONE.format("c") + 'style = "shouty"\n'
    with pytest.raises(EvalCaseError, match="style must be one of polite"):
        load_file(write(tmp_path, f'scenario = "simple_handoff"\n{body}'))


def test_a_case_without_scenario_is_refused(tmp_path: Path) -> None:
    body = '[[case]]\nid = "c"\ncategory = "routing"\nmessage = "x"\nno_tool = true\n'
    path = write(tmp_path, body)
    with pytest.raises(EvalCaseError, match="no scenario"):
        load_file(path)


# ---- scoring scripted turns ------------------------------------------------------------------


ROUTING = (
    'id = "route"\ncategory = "routing"\nmessage = "I want a refund"\nhandoff_to = "returns"\n'
)


async def test_a_routing_case_passes_on_the_right_handoff(tmp_path: Path) -> None:
    case = case_from(tmp_path, ROUTING)
    model = ScriptedChatModel(
        [call("transfer_to_returns", '{"reason": "refund"}'), say("Sure, your phone number?")]
    )
    result = await run_case(case, model, "scripted")
    assert result.verdict.passed, result.verdict.reasons
    assert "transfer_to_returns" in result.verdict.summary


async def test_a_routing_case_fails_on_the_wrong_handoff_or_none(tmp_path: Path) -> None:
    case = case_from(tmp_path, ROUTING)
    wrong = ScriptedChatModel([call("transfer_to_sales", '{"reason": "x"}'), say("Deals!")])
    result = await run_case(case, wrong, "scripted")
    assert not result.verdict.passed
    assert result.verdict.reasons == ("expected a handoff to returns, got sales",)
    chatty = await run_case(case, ScriptedChatModel([say("Happy to help!")]), "scripted")
    assert chatty.verdict.reasons == ("expected a handoff to returns, got none",)


async def test_a_no_tool_case(tmp_path: Path) -> None:
    case = case_from(
        tmp_path, 'id = "hi"\ncategory = "small_talk"\nmessage = "Hello"\nno_tool = true\n'
    )
    ok = await run_case(case, ScriptedChatModel([say("Hi! How can I help?")]), "scripted")
    assert ok.verdict.passed
    model = ScriptedChatModel([call("transfer_to_sales", '{"reason": "x"}'), say("Deals.")])
    bad = await run_case(case, model, "scripted")
    assert bad.verdict.reasons == ("expected no tool call, got transfer_to_sales",)


CONTINUITY = f"""id = "cont"
category = "continuity"
message = "I want to buy a board"
handoff_to = "sales"
reply_not_matching = '{GREETING}'
"""


async def test_a_continuity_case_fails_when_the_new_agent_greets(tmp_path: Path) -> None:
    case = case_from(tmp_path, CONTINUITY)
    handoff = call("transfer_to_sales", '{"reason": "buy"}')  # sales words its own replies
    good = ScriptedChatModel([handoff, say("Sure. Which kind of board?")])
    result = await run_case(case, good, "scripted")
    assert result.verdict.passed, result.verdict.reasons
    greets = ScriptedChatModel([handoff, say("Hello! Welcome to sales.")])
    result = await run_case(case, greets, "scripted")
    assert not result.verdict.passed
    assert "reply matches" in result.verdict.reasons[0]


async def test_a_tool_case_checks_arguments(tmp_path: Path) -> None:
    case = case_from(
        tmp_path,
        f'id = "look"\ncategory = "tool_call"\nagent = "returns"\n'
        f'message = "My number is {PHONE}"\ntool = "lookup_orders"\n'
        f'args = {{ phone_number = "{PHONE}" }}\n'
        f'state = {{ customer = {{ customer_id = "CUS-1001", name = "A", phone = "{PHONE}" }} }}\n',
    )
    good = ScriptedChatModel([call("lookup_orders", f'{{"phone_number": "{PHONE}"}}')])
    result = await run_case(case, good, "scripted")
    assert result.verdict.passed, result.verdict.reasons
    assert result.verdict.invented == ()


async def test_an_invented_phone_is_caught_and_the_missing_info_case_passes(
    tmp_path: Path,
) -> None:
    case = case_from(
        tmp_path,
        'id = "miss"\ncategory = "missing_info"\nagent = "returns"\n'
        'message = "Look up my orders"\nnot_tool = "lookup_orders"\n'
        'state = { customer = { customer_id = "CUS-1001", name = "Alex Rivera" } }\n',
    )
    invented = '{"phone_number": "(555) 123-4567"}'
    model = ScriptedChatModel([call("lookup_orders", invented), say("What is your number?")])
    result = await run_case(case, model, "scripted")
    assert result.verdict.passed, result.verdict.reasons
    (caught,) = result.verdict.invented
    assert (caught.tool, caught.argument, caught.caught) == ("lookup_orders", "phone_number", True)
    summary = summarize("scripted", [result])
    assert (summary.invented_caught, summary.invented_executed) == (1, 0)


def test_an_executed_ungrounded_argument_is_counted(tmp_path: Path) -> None:
    case = case_from(
        tmp_path,
        'id = "x"\ncategory = "tool_call"\nagent = "returns"\nmessage = "orders"\n'
        'tool = "lookup_orders"\n',
    )
    events = [
        {"type": "user_message", "text": "orders please"},
        {"type": "tool_call", "name": "lookup_orders", "arguments": '{"phone_number": "1"}'},
        {"type": "tool_result", "name": "lookup_orders", "output": "{}"},
    ]
    grounded = {"lookup_orders": ("phone_number",)}
    turn = Turn(events=events, conversation="orders please", grounded=grounded)
    verdict = score(case, turn)
    assert verdict.passed
    assert [(i.argument, i.caught) for i in verdict.invented] == [("phone_number", False)]


# ---- the command -----------------------------------------------------------------------------


def eval_app() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    return app


def test_eval_command_reports_a_malformed_case_file(tmp_path: Path) -> None:
    write(tmp_path, '[[case]]\nid = "c"\n', "broken.toml")
    result = CliRunner().invoke(eval_app(), ["eval", "--cases", str(tmp_path)])
    assert result.exit_code == 2
    assert "broken.toml" in result.output


def test_eval_command_skips_an_unknown_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(eval_app(), ["eval", "-m", "no-such-model", "--cases", str(EVALS)])
    assert result.exit_code == 1
    assert "skip no-such-model" in result.output


@pytest.mark.parametrize("extra", [["--split", "test"], ["--split", "dev", "--tasks"]])
def test_eval_command_takes_a_split_and_tasks(extra: list[str]) -> None:
    args = ["eval", "-m", "no-such-model", "--cases", str(EVALS), *extra]
    result = CliRunner().invoke(eval_app(), args)
    assert result.exit_code == 1 and "skip no-such-model" in result.output


def test_eval_command_refuses_an_unknown_split_or_a_split_without_tasks(tmp_path: Path) -> None:
    result = CliRunner().invoke(eval_app(), ["eval", "--split", "train", "--cases", str(EVALS)])
    assert result.exit_code == 2
    write(tmp_path, f'scenario = "simple_handoff"\n{ONE.format("c")}')
    result = CliRunner().invoke(eval_app(), ["eval", "--tasks-only", "--cases", str(tmp_path)])
    assert result.exit_code == 2 and "no tasks in" in result.output


# ---- reports per split -----------------------------------------------------------------------


def result_in(case: Case, split: str, passed: bool) -> CaseResult:
    case = Case(
        case.id + split, case.scenario, case.category, case.message, case.expect, split=split
    )
    verdict = Verdict(passed, () if passed else ("wrong",), summary="said hi")
    return CaseResult(case, "m", verdict, 1.0)


def test_reports_show_each_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = case_from(tmp_path, ROUTING)
    results = [result_in(case, "dev", True), result_in(case, "test", False)]
    summary = summarize("m", results)
    assert summary.overall.total == 2
    assert {k: (v.overall.correct, v.overall.total) for k, v in summary.splits.items()} == {
        "dev": (1, 1),
        "test": (0, 1),
    }
    report = json_report([summary], {"m": results})
    (model,) = report["models"]
    assert model["splits"]["test"]["overall"] == {"correct": 0, "total": 1, "percent": 0.0}
    assert [c["split"] for c in report["cases"]] == ["dev", "test"]
    print_report([summary], CATEGORIES)
    printed = capsys.readouterr().out
    assert "dev" in printed and "test" in printed and "routetest: wrong" in printed
