"""Does ending an answer at the end of its code save tokens without changing pass@1?

The same HumanEval tasks with the seed prompt, answered greedily one request at a time
(serial mode: repeatable), once to the model's own end (`stop_at_code = false`) and once cut
where extraction's code is complete (the default). Fresh answers (no response cache). Prints
and records tokens per answer, wall time, pass@1 and how many extracted programs are
identical.

    .venv/bin/python benchmarks/answer_cut.py [--tasks 0-39] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT, Generation, generate, judge
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks.datasets import load_humaneval, select_tasks

RESULTS = Path(__file__).resolve().parent / "results"


async def one_pass(small: bool, cut: bool, tasks: list) -> tuple[list[Generation], list[bool], float, str]:
    overrides = {"model.choice": "small" if small else None, "stop_at_code": cut}
    settings = load_settings(overrides=overrides).settings
    async with Session(settings, use_cache=False) as session:
        model = (await session.gateway.describe())["model"]
        judges = await session.judges()
        t0 = time.monotonic()
        generations = [await generate(session.gateway, SEED_PROMPT, t, serial=True) for t in tasks]
        wall = time.monotonic() - t0
        verdicts = await asyncio.gather(*(judge(judges, t, g) for t, g in zip(tasks, generations)))
    return generations, [v.result.passed for v in verdicts], wall, model


async def main(spec: str, small: bool) -> None:
    tasks = select_tasks(load_humaneval(), spec)
    rows = {}
    for cut in (False, True):
        gens, passed, wall, model = await one_pass(small, cut, tasks)
        tokens = [g.completion_tokens for g in gens]
        rows["cut" if cut else "whole"] = {
            "tokens_mean": round(statistics.mean(tokens), 1),
            "tokens_median": statistics.median(tokens),
            "tokens_total": sum(tokens),
            "generation_wall_s": round(wall, 1),
            "passed": sum(passed),
            "codes": [g.code for g in gens],
            "verdicts": passed,
        }
        print(
            f"{'cut' if cut else 'whole':5}: {statistics.mean(tokens):.1f} tokens/answer "
            f"(median {statistics.median(tokens)}), generation {wall:.1f}s, "
            f"passed {sum(passed)}/{len(tasks)}",
            flush=True,
        )
    whole, cut = rows["whole"], rows["cut"]
    same_code = sum(a == b for a, b in zip(whole["codes"], cut["codes"]))
    same_verdict = sum(a == b for a, b in zip(whole["verdicts"], cut["verdicts"]))
    print(f"identical extracted code: {same_code}/{len(tasks)}; same verdict: {same_verdict}/{len(tasks)}")
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model,
        "tasks": [t.id for t in tasks],
        "identical_code": same_code,
        "same_verdict": same_verdict,
        "differing": [t.id for t, a, b in zip(tasks, whole["codes"], cut["codes"]) if a != b],
        **{k: {kk: vv for kk, vv in v.items() if kk not in ("codes", "verdicts")} for k, v in rows.items()},
        "token_saving": round(1 - cut["tokens_total"] / whole["tokens_total"], 3),
        "speedup": round(whole["generation_wall_s"] / cut["generation_wall_s"], 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"answer-cut-{'0.5b' if small else '1.5b'}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(
        f"token saving {record['token_saving']:.0%}, generation speed-up x{record['speedup']}; written {out}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="0-39")
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.small))
