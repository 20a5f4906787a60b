"""Does speculative decoding make the embedded model faster without changing its answers?

The same HumanEval tasks with the seed prompt, answered greedily one request at a time
(serial mode: one slot, no prefix reuse, so answers repeat), by the default model with
`model.speculative` = none, ngram (drafts from text already in the context: answers repeat
the signature and docstring) and draft (the small model drafts). Fresh answers (no response
cache). Prints and records, per mode: completion tokens, generation wall time, tokens per
second, pass@1, and how many answers are identical to plain decoding's.

    .venv/bin/python benchmarks/speculative.py [--tasks 0-19] [--modes none,ngram,draft]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT, Generation, generate, judge
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks.datasets import load_humaneval, select_tasks

RESULTS = Path(__file__).resolve().parent / "results"


async def one_pass(mode: str, tasks: list) -> tuple[list[Generation], list[bool], float, float, str]:
    settings = load_settings(overrides={"model.speculative": mode}).settings
    async with Session(settings, use_cache=False) as session:
        t_start = time.monotonic()
        model = (await session.gateway.describe())["model"]  # starts the server
        start_s = time.monotonic() - t_start
        judges = await session.judges()
        t0 = time.monotonic()
        generations = [await generate(session.gateway, SEED_PROMPT, t, serial=True) for t in tasks]
        wall = time.monotonic() - t0
        verdicts = await asyncio.gather(*(judge(judges, t, g) for t, g in zip(tasks, generations)))
    return generations, [v.result.passed for v in verdicts], wall, start_s, model


async def main(spec: str, modes: list[str]) -> None:
    tasks = select_tasks(load_humaneval(), spec)
    rows: dict[str, dict] = {}
    texts: dict[str, list[str]] = {}
    for mode in modes:
        gens, passed, wall, start_s, model = await one_pass(mode, tasks)
        tokens = sum(g.completion_tokens for g in gens)
        texts[mode] = [g.answer for g in gens]
        rows[mode] = {
            "model": model,
            "server_start_s": round(start_s, 1),
            "tokens_total": tokens,
            "generation_wall_s": round(wall, 1),
            "tokens_per_s": round(tokens / wall, 2),
            "passed": sum(passed),
            "verdicts": passed,
        }
        print(
            f"{mode:6}: {tokens} tokens in {wall:.1f}s = {tokens / wall:.2f} tokens/s, "
            f"passed {sum(passed)}/{len(tasks)} (server start {start_s:.1f}s)",
            flush=True,
        )
    base = modes[0]
    for mode in modes[1:]:
        same = sum(a == b for a, b in zip(texts[base], texts[mode]))
        rows[mode]["identical_to_" + base] = same
        rows[mode]["differing"] = [t.id for t, a, b in zip(tasks, texts[base], texts[mode]) if a != b]
        rows[mode]["speedup"] = round(rows[mode]["tokens_per_s"] / rows[base]["tokens_per_s"], 2)
        print(f"{mode}: identical answers {same}/{len(tasks)}; speed x{rows[mode]['speedup']}")
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "tasks": [t.id for t in tasks],
        "modes": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "speculative-1.5b.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="0-19")
    parser.add_argument("--modes", default="none,ngram,draft")
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.modes.split(",")))
