"""Do the cut and the uncut answers of one prompt give the same held-out verdicts, task by task?

Replays, from the response cache only (no answer is paid: a missing one is reported), a
prompt's serial answers to every HumanEval+ task in both forms the loops ask for: cut at the
end of the code (the optimised loop and every guard) and uncut (`--reference-loop`). Prints
the tasks whose extracted code or verdict differs. Written to explain why the reference
comparison's two legs measured the seed at 105 and 107 of 164.

    .venv/bin/python benchmarks/seed_replay.py [--cache DIR] [--small] [--prompt FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT, generate
from prochemy.optimizer.judging import Judges
from prochemy.optimizer.llm.gateway import Budget, BudgetExhausted
from prochemy.optimizer.llm.local_model import require_model_file
from prochemy.optimizer.loop.evaluation import Evaluator, TaskOutcome
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks import Task
from prochemy.optimizer.tasks.datasets import load_humaneval_plus

RESULTS = Path(__file__).resolve().parent / "results"


async def replayed(evaluator: Evaluator, prompt: str, task: Task) -> TaskOutcome | None:
    try:
        return await evaluator.outcome(prompt, task)
    except BudgetExhausted:  # not in the cache: this script never pays for an answer
        return None


async def main(args: argparse.Namespace) -> None:
    base = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    model = base.model.model_copy(update={"path": require_model_file(base)})
    update = {"model": model} | ({"cache_dir": args.cache} if args.cache else {})
    settings = base.model_copy(update=update)
    prompt = args.prompt.read_text() if args.prompt else SEED_PROMPT
    tasks = load_humaneval_plus()
    async with Session(settings) as session:
        session.gateway.replay_fresh = True  # the reference leg's answers are marked fresh
        session.gateway.budget = Budget(max_calls=0)
        judges = Judges(function=await session.sandbox())
        cut = Evaluator(session.gateway, judges, session.outcomes, serial=True, reference=False)
        uncut = cut.as_reference()
        rows, texts = [], {}
        for task in tasks:  # one at a time: the judge is the only work
            a, b = await replayed(cut, prompt, task), await replayed(uncut, prompt, task)
            rows.append((task.id, a, b))
            if a is not None and b is not None and (a.code != b.code or a.passed != b.passed):
                texts[task.id] = [
                    (await generate(session.gateway, prompt, task, serial=True, reference=r)).answer
                    for r in (False, True)
                ]
    both = [(i, a, b) for i, a, b in rows if a is not None and b is not None]
    differ = [
        {
            "task": i,
            "cut": a.passed,
            "uncut": b.passed,
            "same_code": a.code == b.code,
            "cut_tokens": a.completion_tokens,
            "uncut_tokens": b.completion_tokens,
            # a prefix: the same decoding, the code extracted from more text; otherwise the
            # answers diverge at this character
            "diverge_at": None
            if texts[i][1].startswith(texts[i][0])
            else len(os.path.commonprefix(texts[i])),
        }
        for i, a, b in both
        if i in texts
    ]
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model.path.name if model.path else "",
        "prompt": "seed" if not args.prompt else args.prompt.name,
        "tasks": len(tasks),
        "missing_cut": sum(a is None for _, a, _ in rows),
        "missing_uncut": sum(b is None for _, _, b in rows),
        "compared": len(both),
        "cut_passed": sum(a.passed for _, a, _ in both),
        "uncut_passed": sum(b.passed for _, _, b in both),
        "differing_code": len(differ),
        "diverged": sum(d["diverge_at"] is not None for d in differ),
        "differing": differ,
    }
    print(json.dumps({k: v for k, v in record.items() if k != "differing"}))
    for d in differ:
        print(d)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"seed-replay-{'0.5b' if args.small else '1.5b'}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="a cache holding both forms' answers")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--prompt", type=Path, default=None, help="default: the seed prompt")
    asyncio.run(main(parser.parse_args()))
