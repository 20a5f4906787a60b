"""Which model should mutate prompts? One Prochemy iteration from the seed prompt (n
prompts: the seed and n - 1 variants, robust recipe, temperature 1.0) in the paper's
benchmark setting, with the variants written by MUTATOR and judged on the training tasks
with TASK answering (temperature 0, as in the loop).

With MUTATOR == TASK this is exactly iteration 1 of `prochemy refine --benchmark humaneval`
(same samples, same caches). Another mutator gets its own llama-server on a free port.

    .venv/bin/python benchmarks/mutation_pairing.py --task default --mutator small
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from mutator_model import SIZES, with_mutator  # a sibling: these scripts run as files
from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT
from prochemy.optimizer.loop.evaluation import Evaluator
from prochemy.optimizer.loop.refine import RefineConfig, Refiner
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks import TaskSet, TaskSuite
from prochemy.optimizer.tasks.training import TrainingConfig, benchmark_sets

RESULTS = Path(__file__).resolve().parent / "results"


async def main(task_model: str, mutator: str, n: int) -> dict:
    settings = load_settings(overrides={"model.choice": task_model}).settings
    t0 = time.monotonic()
    async with with_mutator(settings, mutator) as settings, Session(settings) as session:
        gateway = session.gateway
        suite = await benchmark_sets(gateway, await session.sandbox(), TrainingConfig(plus=True))
        train = suite.train  # as the headline; no held-out check in one iteration
        evaluator = Evaluator(gateway, await session.judges(), session.outcomes)
        refiner = Refiner(gateway, evaluator, RefineConfig(n=n, k_max=1))
        result = await refiner.run(
            SEED_PROMPT, TaskSuite(train=train, held_out=TaskSet(name="none", tasks=[]))
        )
    it = result.iterations[0]
    variants = it.plain[1:]
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "task_model": SIZES[task_model],
        "mutator": SIZES[mutator],
        "n": n,
        "training_tasks": len(train.tasks),
        "variants_valid": it.variants_valid,
        "variants_attempted": it.variants_attempted,
        "rejections": it.rejections,
        "seed_pass_at_1": it.plain[0],
        "variant_pass_at_1": variants,
        "variant_mean": round(statistics.mean(variants), 4) if variants else None,
        "variant_best": max(variants, default=None),
        "variants_beating_seed": sum(v > it.plain[0] for v in variants),
        "prompts": it.prompts,
        "usage": {r: u.model_dump() for r, u in result.usage.items()},
        "wall_s": round(time.monotonic() - t0, 1),
    }
    print(
        f"task {record['task_model']}, mutator {record['mutator']}: valid {it.variants_valid}/"
        f"{it.variants_attempted}, seed {100 * it.plain[0]:.0f}%, variants mean "
        f"{100 * (record['variant_mean'] or 0):.1f}% best {100 * (record['variant_best'] or 0):.0f}%, "
        f"beating the seed {record['variants_beating_seed']}; {record['wall_s']}s"
    )
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=list(SIZES), default="default")
    parser.add_argument("--mutator", choices=list(SIZES), default="default")
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    record = asyncio.run(main(args.task, args.mutator, args.n))
    out = RESULTS / f"mutation-pairing-task-{record['task_model']}-mutator-{record['mutator']}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written to {out}")
