"""Should generation and judging overlap on 2 cores? The model and the sandbox share them.

Every answer of the seed prompt for a repository's mined tasks (pytest runs, the heaviest
judging there is), once per mode, each mode on a fresh response cache (every answer is
generated) and a fresh outcome store:
- overlapped (what the loop does): each answer is judged as soon as it arrives, while the
  model writes the others;
- phased: every answer first, then every verdict.
Per mode: wall time, generation time, decode rate (completion tokens / generation wall) and
pass count (equal answers must give equal verdicts). `--threads N` sizes llama-server.

    .venv/bin/python benchmarks/scheduling.py [--repo examples/shelfkit] [--tasks 12] [--threads 2]
        [--phased-first]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.aio import gather_or_cancel
from prochemy.optimizer.config import Settings, load_settings
from prochemy.optimizer.generation import SEED_PROMPT, generate, judge
from prochemy.optimizer.llm.llama_server import stop_all
from prochemy.optimizer.llm.local_model import require_model_file
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks.sampling import spread_sample

RESULTS = Path(__file__).resolve().parent / "results"


async def one_mode(settings: Settings, repo: Path, n: int, phased: bool) -> dict:
    async with Session(settings) as session:
        report = await session.mine(repo)
        tasks = spread_sample(report.tasks, n, 0)
        judges = await session.judges(report)
        await session.tiny_completion()  # the model loaded before the clock starts
        before = session.gateway.total_usage()
        t0 = time.monotonic()
        if phased:
            generations = await gather_or_cancel(*(generate(session.gateway, SEED_PROMPT, t) for t in tasks))
            generated_s = time.monotonic() - t0
            verdicts = await gather_or_cancel(*(judge(judges, t, g) for t, g in zip(tasks, generations)))
        else:
            done_at: list[float] = []

            async def both(task):
                g = await generate(session.gateway, SEED_PROMPT, task)
                done_at.append(time.monotonic())
                return await judge(judges, task, g)

            verdicts = await gather_or_cancel(*(both(t) for t in tasks))
            generated_s = max(done_at) - t0
        wall = time.monotonic() - t0
        usage = session.gateway.total_usage()
    tokens = usage.completion_tokens - before.completion_tokens
    return {
        "mode": "phased" if phased else "overlapped",
        "tasks": len(tasks),
        "passed": sum(v.result.passed for v in verdicts),
        "answers": {t.id: v.generation.code for t, v in zip(tasks, verdicts)},
        "wall_s": round(wall, 1),
        "generation_s": round(generated_s, 1),
        "completion_tokens": tokens,
        "decode_tokens_per_s": round(tokens / max(generated_s, 1e-9), 2),
    }


async def main(args: argparse.Namespace) -> None:
    base = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    model = base.model.model_copy(update={"path": require_model_file(base), "threads": args.threads})
    rows = []
    for phased in (True, False) if args.phased_first else (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            settings = base.model_copy(update={"cache_dir": Path(tmp), "model": model})
            rows.append(await one_mode(settings, args.repo.resolve(), args.tasks, phased))
        # a fresh llama-server for the next mode: the running one holds this mode's prompts in
        # its slots' KV cache, which made whichever mode ran second twice as fast
        stop_all()
        r = rows[-1]
        print(
            f"{r['mode']:<10} {r['passed']}/{r['tasks']} passed, wall {r['wall_s']}s, generation "
            f"{r['generation_s']}s, {r['decode_tokens_per_s']} tokens/s",
            flush=True,
        )
    same = rows[0]["answers"] == rows[1]["answers"]
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "repo": args.repo.resolve().name,
        "model": model.path.name if model.path else "",
        "threads": args.threads,
        "order": [r["mode"] for r in rows],
        "modes": [{k: v for k, v in r.items() if k != "answers"} for r in rows],
        "identical_answers": same,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    order = "-phased-first" if args.phased_first else ""
    out = RESULTS / f"scheduling-{args.repo.resolve().name}-{'0.5b' if args.small else '1.5b'}{order}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"identical answers in both modes: {same}; written {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path("examples/shelfkit"))
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--phased-first", action="store_true", help="run the modes in the other order")
    asyncio.run(main(parser.parse_args()))
