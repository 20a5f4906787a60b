"""Training and held-out task sets for a refinement in the paper's benchmark setting.

Real training tasks come from another dataset than the one measured (MBPP when measuring
HumanEval), or from a split of HumanEval itself; the synthetic half is written from them
and validated; the held-out tasks are never seen by the loop.
"""

from __future__ import annotations

import random
from typing import Literal, Protocol, TypeVar

from prochemy.sandbox import Sandbox
from pydantic import BaseModel, Field

from ..llm.gateway import LLMGateway
from .datasets import load_humaneval, load_humaneval_plus, load_mbpp
from .examples import benchmark_bank, with_examples
from .model import ScreenReport, Task, TaskSet, TaskSuite
from .sampling import spread_sample
from .synthesis import synthesize
from .translation import BENCHMARKS, POOL, load_translation, translation_split
from .translation_synthesis import synthesize_translations

T = TypeVar("T", bound=Task)


class TrainingConfig(BaseModel):
    # "translate-java-python" / "translate-python-java": HumanEval-X in that direction; real
    # tasks from the fixed training pool of 40, the other 124 held out; the synthetic half
    # are the real tasks with their sources rewritten (translation_synthesis.py)
    benchmark: Literal["humaneval", "translate-java-python", "translate-python-java"] = "humaneval"
    train_from: Literal["mbpp", "humaneval"] = "mbpp"
    k_real: int = Field(10, ge=1)
    k_synthetic: int = Field(10, ge=0)
    held_out_limit: int | None = Field(None, description="measure on N held-out tasks drawn at random")
    plus: bool = Field(False, description="held-out tasks judged on HumanEval+ inputs too")
    seed: int = 0

    def source(self) -> str:
        """Where the real training tasks come from, as a report names it."""
        if self.benchmark.startswith("translate-"):
            return f"the {POOL}-task training pool of HumanEval-X"
        return self.train_from.upper() if self.train_from == "mbpp" else "a split of HumanEval"


class Screen(Protocol):
    """Chooses k real training tasks of more candidates (loop/screening.py, by the seed)."""

    candidates: int

    async def __call__(self, tasks: list[T], k: int) -> tuple[list[T], ScreenReport]: ...


async def _real(
    pool: list[T], k: int, rng: random.Random, choose: Screen | None
) -> tuple[list[T], ScreenReport | None]:
    if choose is None:
        return rng.sample(pool, min(k, len(pool))), None
    return await choose(rng.sample(pool, min(max(choose.candidates, k), len(pool))), k)


async def benchmark_sets(
    gateway: LLMGateway, sandbox: Sandbox, cfg: TrainingConfig, choose: Screen | None = None
) -> TaskSuite:
    rng = random.Random(cfg.seed)
    if cfg.benchmark.startswith("translate-"):
        pool, held_tasks = translation_split(load_translation(BENCHMARKS[cfg.benchmark]))
        chosen, screening = await _real(pool, cfg.k_real, rng, choose)
        held_tasks = spread_sample(held_tasks, cfg.held_out_limit, cfg.seed)
        rewritten, report = await synthesize_translations(gateway, sandbox, chosen, cfg.k_synthetic, cfg.seed)
        bank = benchmark_bank(chosen)
        return TaskSuite(
            train=TaskSet(name=f"{cfg.benchmark}-train", tasks=with_examples(chosen, bank) + rewritten),
            held_out=TaskSet(name=f"{cfg.benchmark}-held-out", tasks=with_examples(held_tasks, bank)),
            synthesis=report,
            screening=screening,
        )
    humaneval = load_humaneval_plus() if cfg.plus else load_humaneval()
    if cfg.train_from == "mbpp":
        real, screening = await _real(load_mbpp("train"), cfg.k_real, rng, choose)
        held = humaneval
    else:
        shuffled = humaneval[:]
        rng.shuffle(shuffled)
        draw = max(cfg.k_real, choose.candidates) if choose else cfg.k_real
        candidates = shuffled[:draw]
        real, screening = await choose(candidates, cfg.k_real) if choose else (candidates, None)
        # candidates screened out are not held out either: the seed's verdicts on them chose
        held = sorted(shuffled[draw:], key=lambda t: int(t.id.split("/")[1]))
    held = spread_sample(held, cfg.held_out_limit, cfg.seed)
    synthetic, report = await synthesize(gateway, sandbox, real, real + held, cfg.k_synthetic, cfg.seed)
    # worked examples, for prompts that show some: the real training tasks' solutions only
    bank = benchmark_bank(real)
    return TaskSuite(
        train=TaskSet(name=f"{cfg.train_from}-train", tasks=with_examples(real, bank) + synthetic),
        held_out=TaskSet(name="humaneval-held-out", tasks=with_examples(held, bank)),
        synthesis=report,
        screening=screening,
    )
