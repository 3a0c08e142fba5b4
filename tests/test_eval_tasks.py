"""Multi-turn eval tasks: the files load and validate, the scorer counts, a run ends to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voxrelay.evals import (
    GOALS,
    EvalCaseError,
    Success,
    Task,
    goal_reached,
    load_tasks,
    run_task,
    score_task,
    summarize_tasks,
)
from voxrelay.evals.cli import json_report
from voxrelay.evals.scoring import Event
from voxrelay.evals.tables import print_task_report
from voxrelay.evals.task_report import task_json
from voxrelay.evals.tasks import load_task_file
from voxrelay.scenarios import load_scenario, scenario_names
from voxrelay.testing import ScriptedChatModel, call, say

EVALS = Path(__file__).resolve().parent.parent / "evals"
PHONE = "(206) 555-0142"
ALEX = {"customer": {"customer_id": "CUS-1001", "name": "Alex Rivera", "phone": PHONE}}
GROUNDED = {
    "lookup_orders": ("phone_number",),
    "check_eligibility_and_possibly_initiate_return": ("order_id", "item_id"),
}
GOAL = '{ tool = "check_eligibility_and_possibly_initiate_return" }'
MINIMAL = f"""[[task]]
id = "t1"
scenario = "customer_service_retail"
goal = "return"
opening = "I want to return my board"
success = {GOAL}
"""


def write(tmp_path: Path, text: str, name: str = "tasks.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


# ---- task files ------------------------------------------------------------------------------


def test_the_task_files_load_in_both_splits_and_name_real_tools_and_agents() -> None:
    tasks = load_tasks(EVALS)
    by_split = {s: [t for t in tasks if t.split == s] for s in ("dev", "test")}
    assert len(by_split["dev"]) >= 10 and len(by_split["test"]) >= 20
    assert {t.scenario for t in tasks} == set(scenario_names())
    assert {t.goal for t in by_split["test"]} == set(GOALS)
    for task in tasks:
        scenario = load_scenario(task.scenario)
        tools = {t.name for a in scenario.agents for t in scenario.tools_for(a)}
        for agent in (task.agent, task.success.agent):
            if agent:
                scenario.agent(agent)
        assert task.success.tool is None or task.success.tool in tools, task.id


def test_a_task_loads_with_its_defaults(tmp_path: Path) -> None:
    (task,) = load_task_file(write(tmp_path, MINIMAL), "test")
    assert (task.id, task.split, task.max_turns, task.facts, task.rules) == (
        "t1",
        "test",
        8,
        {},
        (),
    )
    assert task.success == Success(tool="check_eligibility_and_possibly_initiate_return")


def test_a_file_may_hold_cases_and_tasks(tmp_path: Path) -> None:
    case = '[[case]]\nid = "c"\ncategory = "small_talk"\nmessage = "hi"\nno_tool = true\n'
    write(tmp_path, f'scenario = "customer_service_retail"\n{case}{MINIMAL}', "mixed.toml")
    assert [t.id for t in load_tasks(tmp_path)] == ["t1"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('goal = "return"', 'goal = "refund"'), "goal must be one of"),
        (('opening = "I want to return my board"', 'opening = ""'), "'opening'"),
        (("success = {", "max_turns = 0\nsuccess = {"), "'max_turns'"),
        (("success = {", 'caller = { shoe_size = "10" }\nsuccess = {'), "unknown caller facts"),
        (("success = {", "caller = { phone = 5 }\nsuccess = {"), "caller fact 'phone'"),
        (("success = {", 'fallback = []\nsuccess = {'), "'fallback'"),
        (("success = {", 'rule = [{ when = "(", say = "x" }]\nsuccess = {'), "rule #1 'when'"),
        (("success = {", 'rule = [{ when = "x", say = "{zip}" }]\nsuccess = {'), "['zip']"),
        (("success = {", 'rule = [{ when = "x" }]\nsuccess = {'), "rule #1 must have"),
        (("success = {", 'style = "shouty"\nsuccess = {'), "style must be one of"),
        (("success = {", 'colour = "red"\nsuccess = {'), "unknown keys ['colour']"),
        ((f"success = {GOAL}", ""), "'success'"),
        (("{ tool =", '{ args = { a = 1 }, agent = "returns", tool ='), None),
        ((GOAL, '{ args = { a = 1 } }'), "'success' needs"),
        ((GOAL, '{ agent = "x", args = { a = 1 } }'), "'args' needs 'tool'"),
        (("{ tool =", '{ reply_matching = "[", tool ='), "not a valid regex"),
        (("{ tool =", "{ when = 1, tool ="), "unknown success keys"),
    ],
)  # fmt: skip
def test_a_malformed_task_names_file_and_task(
    tmp_path: Path, change: tuple[str, str], problem: str | None
) -> None:
    path = write(tmp_path, MINIMAL.replace(*change), "bad.toml")
    if problem is None:  # the control: this change is valid
        load_task_file(path)
        return
    with pytest.raises(EvalCaseError) as info:
        load_task_file(path)
    message = str(info.value)
    assert "bad.toml, task " in message and ("'t1'" in message or "'#1'" in message)
    assert problem in message


def test_a_task_without_id_is_named_by_position(tmp_path: Path) -> None:
    with pytest.raises(EvalCaseError, match=r"bad\.toml, task '#1': 'id'"):
        load_task_file(write(tmp_path, MINIMAL.replace('id = "t1"\n', ""), "bad.toml"))


def test_duplicate_task_ids_across_splits_are_refused(tmp_path: Path) -> None:
    for split in ("dev", "test"):
        (tmp_path / split).mkdir()
        write(tmp_path / split, MINIMAL)
    with pytest.raises(EvalCaseError, match=r"task 't1': duplicate id"):
        load_tasks(tmp_path)


def test_tasks_filter_by_split_and_scenario(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "test").mkdir()
    write(tmp_path / "dev", MINIMAL)
    write(tmp_path / "test", MINIMAL.replace('"t1"', '"t2"'))
    assert [t.id for t in load_tasks(tmp_path, split="test")] == ["t2"]
    assert [t.id for t in load_tasks(tmp_path)] == ["t1", "t2"]
    assert load_tasks(tmp_path, scenario="simple_handoff") == []


# ---- the scorer ------------------------------------------------------------------------------


def task(**success: Any) -> Task:
    return Task("t", "customer_service_retail", "return", "hi", Success(**success))


def user(text: str) -> Event:
    return {"type": "user_message", "text": text}


def tool(name: str, args: dict[str, Any], output: Any, n: int, ok: bool = True) -> list[Event]:
    arguments = json.dumps(args)
    out = output if isinstance(output, str) else json.dumps(output)
    return [
        {"type": "tool_call", "name": name, "arguments": arguments, "call_id": f"c{n}"},
        {"type": "tool_result", "name": name, "output": out, "call_id": f"c{n}", "ok": ok},
    ]


def reply(text: str, agent: str = "returns") -> Event:
    return {"type": "assistant_message", "text": text, "agent": agent}


RETURN = "check_eligibility_and_possibly_initiate_return"
IDS = {"order_id": "SPB-20431", "item_id": "SB-158-SUMMIT"}


def test_the_goal_needs_an_executed_call_with_the_argument_subset_and_no_error() -> None:
    goal = task(tool=RETURN, args={"order_id": "spb-20431"})
    assert goal_reached(goal.success, tool(RETURN, IDS, {"eligible": True}, 1))
    assert not goal_reached(goal.success, tool(RETURN, IDS, {"error": "not verified"}, 1))
    assert not goal_reached(goal.success, tool(RETURN, IDS, {"eligible": True}, 1, ok=False))
    other = {**IDS, "order_id": "SPB-19877"}
    assert not goal_reached(goal.success, tool(RETURN, other, {"eligible": True}, 1))


def test_a_wanted_list_is_a_subset_of_the_calls_list() -> None:
    goal = task(tool="checkout", args={"item_ids": ["hm-vent"]})
    bought = tool("checkout", {"item_ids": ["SB-155-PARK", "HM-VENT"]}, {"order_id": "X"}, 1)
    assert goal_reached(goal.success, bought)
    missed = tool("checkout", {"item_ids": ["SB-155-PARK"]}, {"order_id": "X"}, 1)
    assert not goal_reached(goal.success, missed)


def test_an_agent_goal_with_a_reply_needs_that_agents_reply() -> None:
    goal = task(agent="haikuWriter", reply_matching="snow")
    moved = {"type": "agent_changed", "from": "greeter", "to": "haikuWriter"}
    assert not goal_reached(goal.success, [reply("A snow haiku?", "greeter"), moved])
    assert goal_reached(goal.success, [moved, reply("Snow falls", "haikuWriter")])


def test_a_clean_run_that_reaches_the_goal_passes() -> None:
    turns = [
        [user("I want to return my board"), reply("Your phone number?")],
        [user(f"It's {PHONE}"), *tool("lookup_orders", {"phone_number": PHONE}, IDS, 1)],
        [user("It's the Summit board, defective"), *tool(RETURN, IDS, {"eligible": True}, 2)],
    ]
    verdict = score_task(task(tool=RETURN, args=IDS), turns, GROUNDED)
    assert verdict.passed, verdict.reasons
    assert (verdict.reached_at, verdict.turns, verdict.caught) == (3, 3, 0)
    assert set(verdict.counters.values()) == {0}


def test_each_counter_fails_a_run_that_reached_the_goal() -> None:
    call_r, result_r = tool("lookup_orders", {}, {}, 9, ok=False)
    refused = [
        call_r,
        {"type": "argument_refused", "name": "lookup_orders", "argument": "x", "value": "y"},
        result_r,
    ]
    turns = [
        [
            user("orders please"),
            *tool("lookup_orders", {"phone_number": "(555) 000-1111"}, {"orders": []}, 1),
            *refused,
            reply('<tool_call>{"name": "lookup_orders"}</tool_call>'),
        ],
        [
            user(f"It's {PHONE}"),
            *tool("lookup_orders", {"phone_number": PHONE}, IDS, 2),
            *tool("lookup_orders", {"phone_number": PHONE}, IDS, 3),
            *tool(RETURN, IDS, {"eligible": True}, 4),
            reply("Done: lookup_orders returned {...}"),
            {"type": "error", "code": "response_failed", "text": "context overflow"},
        ],
    ]
    verdict = score_task(task(tool=RETURN), turns, GROUNDED)
    assert verdict.reached and not verdict.passed
    assert verdict.counters == {
        "junk_turns": 2,
        "repeated_calls": 1,
        "invented_executed": 1,
        "errors": 1,
    }
    assert verdict.caught == 1
    assert [i.value for i in verdict.invented] == ["(555) 000-1111"]
    assert verdict.junk[0].startswith("turn 1: tool_tag")
    assert "first error: context overflow" in verdict.reasons


def test_a_value_said_only_later_does_not_ground_an_earlier_call() -> None:
    turns = [
        [user("orders please"), *tool("lookup_orders", {"phone_number": PHONE}, [], 1)],
        [user(f"oh, my number is {PHONE}")],
    ]
    verdict = score_task(task(tool="lookup_orders"), turns, GROUNDED)
    assert verdict.counters["invented_executed"] == 1


def test_the_same_call_in_two_turns_is_not_a_repeat() -> None:
    call_once = tool("lookup_orders", {"phone_number": PHONE}, [], 1)
    turns = [[user(PHONE), *call_once], [user("again?"), *call_once]]
    assert score_task(task(tool="lookup_orders"), turns, GROUNDED).counters["repeated_calls"] == 0


def test_a_run_that_never_reaches_the_goal_says_what_it_wanted() -> None:
    verdict = score_task(task(tool=RETURN, args=IDS), [[user("hi"), reply("Hello!")]], GROUNDED)
    assert not verdict.passed and verdict.reached_at is None
    assert verdict.reasons[0].startswith(f"goal not reached in 1 turn(s): {RETURN}(")


# ---- a task run through a Session on a scripted model --------------------------------------

RUN = f"""[[task]]
id = "run"
scenario = "customer_service_retail"
goal = "return"
agent = "returns"
state = {{ customer = {{ customer_id = "CUS-1001", name = "Alex Rivera", phone = "{PHONE}" }} }}
opening = "I want to return the Summit board"
max_turns = 5
caller = {{ phone = "{PHONE}", reason = "It's defective, the edge came off." }}
success = {{ tool = "{RETURN}", args = {{ order_id = "SPB-20431", item_id = "SB-158-SUMMIT" }} }}
"""


async def test_a_task_runs_through_a_session_until_the_goal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (spec,) = load_task_file(write(tmp_path, RUN))
    ids = json.dumps({**IDS, "reason": "defective"})
    chat = ScriptedChatModel(
        [
            say("Sure. What is your phone number?"),
            call("lookup_orders", json.dumps({"phone_number": PHONE})),
            # the returns flow reads the orders back and, after the call, the outcome
            call(RETURN, ids, expect_in_prompt=["the edge came off"]),
        ]
    )
    result = await run_task(spec, chat, "scripted")
    chat.assert_complete()
    assert result.verdict.passed, result.verdict.reasons
    assert (result.verdict.reached_at, len(result.turns)) == (3, 3)
    said = [t[0]["text"] for t in result.turns]
    assert said == [
        "I want to return the Summit board",
        f"My phone number is {PHONE}.",
        "It's defective, the edge came off.",
    ]
    report = task_json(result)
    assert report["transcript"][2]["calls"] == [f"{RETURN}({ids})"]
    summary = summarize_tasks("scripted", [result])
    assert (summary.overall.correct, summary.splits["dev"].overall.total) == (1, 1)
    whole = json_report([], {}, [summary], {"scripted": [result]})
    assert whole["task_models"][0]["splits"]["dev"]["counters"]["junk_turns"] == 0
    assert [t["id"] for t in whole["tasks"]] == ["run"]
    print_task_report([summary])
    printed = capsys.readouterr().out
    assert "voxrelay eval: tasks" in printed and "1/1 (100%)" in printed


async def test_junk_and_repeats_are_stopped_by_the_runtime_and_the_task_fails_at_the_cap(
    tmp_path: Path,
) -> None:
    (spec,) = load_task_file(write(tmp_path, RUN.replace("max_turns = 5", "max_turns = 2")))
    lookup = json.dumps({"phone_number": PHONE})
    chat = ScriptedChatModel(
        [
            say('Your phone number? <tool_call>{"name": "lookup_orders"}</tool_call>'),
            say("What is your phone number?"),  # asked again in words: the junk never spoke
            call("lookup_orders", lookup),
            call("lookup_orders", lookup),  # answered with the earlier result, not run again
            say("Which order?"),
        ]
    )
    result = await run_task(spec, chat, "scripted")
    v = result.verdict
    assert not v.passed and not v.reached and v.turns == 2
    assert (v.counters["junk_turns"], v.counters["repeated_calls"]) == (0, 0)
    assert result.turns[1][0]["text"] == f"My phone number is {PHONE}."
    assert v.reasons[0].startswith("goal not reached in 2 turn(s)")
