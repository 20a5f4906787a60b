"""benchmarks/structure_probe.py: each arm changes one piece of the seed prompt, and the
worked examples shown on HumanEval+ come from MBPP's training split only."""

from __future__ import annotations

from prochemy.optimizer.generation import SEED_PROMPT
from prochemy.optimizer.prompts import PromptSpec
from prochemy.optimizer.tasks.datasets import load_humaneval_plus, load_mbpp
from prochemy.optimizer.tasks.examples import benchmark_bank, with_examples

from benchmarks.structure_probe import arm_prompts


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
