"""benchmarks/compare_strategies.py: paired hidden-test pass of two repair runs, a stopped
run compared on the tasks it finished, and the fair pairing on agreeing first attempts."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.compare_strategies import compare, per_task, task_order


def row(task: str, first: bool, after: bool) -> dict:
    attempts = [{"visible": "passed" if first else "failed", "hidden": first}]
    if not first:
        attempts.append({"visible": "passed" if after else "failed", "hidden": after})
    return {
        "id": f"HumanEval/{task}",
        "first_attempt_passed": first,
        "hidden_after": {"1": first, "8": after},
        "attempts": attempts,
        "completion_tokens": 10 * len(attempts),
    }


def test_a_stopped_run_is_compared_on_its_finished_tasks(tmp_path: Path) -> None:
    done = {
        "results": {"he": {"per_task": [row("0", False, True), row("1", False, False), row("2", True, True)]}}
    }
    stopped = {"results": {}, "so_far": {"per_task": [row("0", False, False), row("1", False, True)]}}
    (tmp_path / "a.json").write_text(json.dumps(done))
    (tmp_path / "b.json").write_text(json.dumps(stopped))
    got = compare(per_task(tmp_path / "a.json"), per_task(tmp_path / "b.json"), derive=False)
    assert got["tasks"] == 2  # HumanEval/2 is not finished in B
    assert got["only_A_at_8"] == ["HumanEval/0"] and got["only_B_at_8"] == ["HumanEval/1"]
    assert got["hidden_pass_after"][8] == {"A": 1, "B": 1}


def test_the_fair_pairing_drops_tasks_whose_greedy_verdicts_differ() -> None:
    a = {r["id"]: r for r in [row("0", True, True), row("1", False, True)]}
    b = {r["id"]: r for r in [row("0", False, False), row("1", False, False)]}
    assert compare(a, b, derive=False)["tasks"] == 2
    fair = compare(a, b, derive=False, same_first_only=True)
    assert fair["tasks"] == 1 and fair["only_A_at_8"] == ["HumanEval/1"]


def test_repository_task_ids_are_ordered_by_name_and_benchmark_ids_by_number() -> None:
    ids = ["HumanEval/10", "toolz/itertoolz.py::last", "HumanEval/2", "shelfkit/money.py::split_evenly"]
    assert sorted(ids, key=task_order) == [
        "HumanEval/2",
        "HumanEval/10",
        "shelfkit/money.py::split_evenly",
        "toolz/itertoolz.py::last",
    ]
