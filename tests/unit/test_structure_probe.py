"""benchmarks/structure_probe.py: each arm changes one piece of the seed prompt, and the
worked examples shown on HumanEval+ come from MBPP's training split only."""

from __future__ import annotations

from prochemy.optimizer.generation import SEED_PROMPT
from prochemy.optimizer.prompts import PromptSpec
from prochemy.optimizer.tasks.datasets import load_humaneval_plus, load_mbpp
from prochemy.optimizer.tasks.examples import benchmark_bank, with_examples

from benchmarks.structure_probe import arm_prompts, pooled


def test_each_arm_changes_one_piece_of_the_seed() -> None:
    arms = {name: PromptSpec.parse(text) for name, text in arm_prompts(3).items()}
    assert arms["examples"] == PromptSpec(instruction=SEED_PROMPT, examples=3, style="direct")
    assert arms["plan"] == PromptSpec(instruction=SEED_PROMPT, examples=0, style="plan")


def test_examples_come_from_mbpp_training_split_never_humaneval() -> None:
    bank = benchmark_bank(load_mbpp("train"))
    tasks = with_examples(load_humaneval_plus()[:20], bank)
    shown = [e.source for t in tasks for e in t.examples]
    assert len(shown) == 20 * 3
    assert all(601 <= int(s.removeprefix("MBPP/")) <= 974 for s in shown)


def _arm(tasks: int, seed: int, arm: int, only_arm: list[str], only_seed: list[str]) -> dict:
    comparison = {
        "tasks": tasks,
        "serial": True,
        "seed_passed": seed,
        "best_passed": arm,
        "seed_base_passed": seed,
        "best_base_passed": arm,
        "only_best": only_arm,
        "only_seed": only_seed,
    }
    return {"held_out_comparison": comparison}


def test_pooling_sums_each_arm_over_sets_and_counts_a_set_measured_twice_once_and_keeps_the_others() -> None:
    old = {
        "sets": {
            "toolz": {"arms": {"examples": _arm(20, 4, 6, ["a", "b"], []), "plan": _arm(20, 4, 4, [], [])}}
        }
    }
    new = {
        "sets": {
            "toolz": {"arms": {"examples": _arm(25, 6, 9, ["a", "b", "c"], [])}},
            "boltons": {"arms": {"examples": _arm(40, 11, 12, ["d", "e", "f", "g"], ["h", "i", "j"])}},
        }
    }
    pool = pooled([old, new])["examples"]
    assert (pool["tasks"], pool["seed"], pool["arm"]) == (65, 17, 21)
    assert (pool["only_arm"], pool["only_seed"]) == (7, 3)
    assert pool["sign_p"] == 0.3438  # 2 * P(X <= 3), X ~ Bin(10, 1/2)
    assert pool["ci_points"][0] < 0 < pool["ci_points"][1]
    assert pooled([old, new])["plan"]["tasks"] == 20  # the arm the later file did not measure stays
