"""Training tasks that can rank prompts, chosen by the seed's own verdicts.

Drawn at random, most training tasks are ones every prompt solves or none does; they cannot
tell prompts apart, and the few that can decide the winner by chance. Screening runs the
seed once on more candidates (greedy answers, cached: the loop reuses them) and trains on a
balanced set: tasks the seed fails, where a better prompt can gain, and tasks it passes,
where a worse one loses.
"""

from __future__ import annotations

import random
from typing import TypeVar

from ..tasks import ScreenReport, Task
from .evaluation import Evaluator

T = TypeVar("T", bound=Task)


async def screen(
    evaluator: Evaluator, seed_prompt: str, candidates: list[T], k: int, seed: int
) -> tuple[list[T], ScreenReport]:
    """`k` of the candidates, half failed by the seed where there are enough (the rest
    from the other side), in the candidates' order."""
    row = (await evaluator.matrix([seed_prompt], list(candidates)))[0]
    failing = [t for t, o in zip(candidates, row) if not o.passed]
    passing = [t for t, o in zip(candidates, row) if o.passed]
    k = min(k, len(candidates))
    n_fail = min(len(failing), max((k + 1) // 2, k - len(passing)))
    n_pass = k - n_fail
    rng = random.Random(f"{seed}-screen")
    chosen = {t.id for t in rng.sample(failing, n_fail) + rng.sample(passing, n_pass)}
    report = ScreenReport(
        candidates=len(candidates), seed_failed=len(failing), chosen_failing=n_fail, chosen_passing=n_pass
    )
    return [t for t in candidates if t.id in chosen], report


class Screener:
    """`screen` bound to one refinement (tasks/training.py's Screen)."""

    def __init__(self, evaluator: Evaluator, seed_prompt: str, candidates: int, seed: int) -> None:
        self.evaluator = evaluator
        self.seed_prompt = seed_prompt
        self.candidates = candidates
        self.seed = seed

    async def __call__(self, tasks: list[T], k: int) -> tuple[list[T], ScreenReport]:
        return await screen(self.evaluator, self.seed_prompt, tasks, k, self.seed)
