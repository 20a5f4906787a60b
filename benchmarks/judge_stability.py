"""Are the loop's verdicts stable? Re-judge every cached answer of a stored benchmark
refinement's training matrix several times and list the cells whose verdict moves.

Answers come from the response cache only (a budget of 0 paid calls: a missing answer is
an error, never a new generation), so this measures the judge, not the model. Run it once
on an idle machine and once beside a busy llama-server (the loop judges while the model
generates) to see whether timing decides any verdict.

    .venv/bin/python benchmarks/judge_stability.py RUN [--repeats 5] [--plus] [--small] [--k-synthetic 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import generate, judge
from prochemy.optimizer.llm.gateway import Budget
from prochemy.optimizer.loop.evaluation import OutcomeStore, model_identity
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks.training import TrainingConfig, benchmark_sets

RESULTS = Path(__file__).resolve().parent / "results"


async def main(run_ref: str, repeats: int, plus: bool, small: bool, label: str, k_synthetic: int) -> dict:
    settings = load_settings(overrides={"model.choice": "small" if small else None}).settings
    identity = model_identity(settings)
    async with Session(settings) as session:
        run = session.load_run(run_ref).result
        gateway, store = session.gateway, session.outcomes
        gateway.budget = Budget(max_calls=0)  # replay only
        sandbox, judges = await session.sandbox(), await session.judges()
        k_real = sum(t.startswith("MBPP/") for t in run.train)
        tc = TrainingConfig(k_real=k_real, k_synthetic=k_synthetic, plus=plus, seed=run.config.seed)
        train = (await benchmark_sets(gateway, sandbox, tc)).train
        if [t.id for t in train.tasks] != run.train:
            raise SystemExit("the rebuilt training set differs from the run's: other arguments?")
        prompts = list(dict.fromkeys(p for it in run.iterations for p in it.prompts))
        cells = [(p, t) for p in prompts for t in train.tasks]
        answers = await asyncio.gather(*(generate(gateway, p, t) for p, t in cells))
        t0 = time.monotonic()
        verdicts: list[list[bool]] = [[] for _ in cells]
        outcomes: list[Counter[str]] = [Counter() for _ in cells]
        for _ in range(repeats):
            judged = await asyncio.gather(*(judge(judges, t, g) for (_, t), g in zip(cells, answers)))
            for i, j in enumerate(judged):
                verdicts[i].append(j.result.passed)
                outcomes[i][j.result.outcome.value] += 1
        wall = time.monotonic() - t0
        unstable = []
        for i, ((prompt, task), vs) in enumerate(zip(cells, verdicts)):
            known = store.get(OutcomeStore.key(identity, prompt, task))
            if len(set(vs)) > 1 or (known is not None and known.base_passed != vs[0]):
                unstable.append(
                    {
                        "prompt": prompts.index(prompt),
                        "task": task.id,
                        "verdicts": vs,
                        "outcomes": dict(outcomes[i]),
                        "stored": None if known is None else known.base_passed,
                        "stored_detail": None if known is None else known.detail[:200],
                    }
                )
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": run.run_id,
        "label": label,
        "prompts": len(prompts),
        "tasks": len(train.tasks),
        "cells": len(cells),
        "repeats": repeats,
        "judge_wall_s": round(wall, 1),
        "unstable": unstable,
    }
    print(
        f"{len(cells)} cells x {repeats} judgements in {wall:.1f}s; "
        f"unstable or differing from the stored verdict: {len(unstable)}"
    )
    for u in unstable:
        print(f"  prompt {u['prompt']} {u['task']}: {u['verdicts']} {u['outcomes']} stored={u['stored']}")
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--plus", action="store_true", help="the run used --plus")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--k-synthetic", type=int, default=10, help="as the run was asked")
    parser.add_argument("--label", default="idle", help="machine state, recorded (idle, busy)")
    args = parser.parse_args()
    record = asyncio.run(main(args.run, args.repeats, args.plus, args.small, args.label, args.k_synthetic))
    out = RESULTS / f"judge-stability-{record['run'][:8]}-{args.label}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written to {out}")
