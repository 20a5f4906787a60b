"""What the optimised loop saves against the paper-faithful one, in the same run.

Both loops refine the same seed on the same HumanEval+ benchmark suite (MBPP real +
synthetic training tasks, HumanEval+ held out, judged one request at a time) with the same
settings. The optimised loop runs first on a fresh cache: it pays every answer. The
reference loop (`RefineConfig.reference`: every pool member evaluated again every
iteration, no stored outcome reused, answers not cut at the end of their code) then runs on
a copy of that cache, so it replays the same synthesis and mutation answers and pays every
task answer itself. Per loop: paid calls and tokens per role, wall time, P*, held-out
pass@1 of seed and P*.

    .venv/bin/python benchmarks/reference_loop.py [--small] [--n 10] [--k-max 10]
        [--k-real 10] [--k-synthetic 10] [--held-out N] [--label paper]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import Settings, load_settings
from prochemy.optimizer.llm.local_model import require_model_file
from prochemy.optimizer.loop.refine import RefineConfig
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks.training import TrainingConfig

RESULTS = Path(__file__).resolve().parent / "results"


async def one_loop(settings: Settings, training: TrainingConfig, config: RefineConfig) -> dict:
    t0 = time.monotonic()
    async with Session(settings) as session:
        done = await session.refine_benchmark(training, config, on_note=lambda m: print(m, flush=True))
    result = done.result
    c = result.held_out_comparison
    usage = {role: u.model_dump() for role, u in result.usage.items()}
    loop_wall = sum(it.wall_s for it in result.iterations)
    return {
        "reference": config.reference,
        "paid_calls": sum(u["calls"] for u in usage.values()),
        "cache_hits": sum(u["cache_hits"] for u in usage.values()),
        "completion_tokens": sum(u["completion_tokens"] for u in usage.values()),
        "task_completion_tokens": usage.get("task", {}).get("completion_tokens", 0),
        "usage": usage,
        "iterations": len(result.iterations),
        "stop_reason": result.stop_reason,
        "loop_wall_s": round(loop_wall, 1),
        "refine_wall_s": result.wall_s,
        "wall_s": round(time.monotonic() - t0, 1),  # with training-set making and the held-out check
        "best_prompt": result.best_prompt,
        "adopted": result.adopted,
        "held_out": c.model_dump() if c else None,
        "run": json.loads(result.model_dump_json()),
    }


def line(name: str, r: dict) -> str:
    c = r["held_out"] or {}
    return (
        f"{name:<10} paid calls {r['paid_calls']:>5}  task tokens {r['task_completion_tokens']:>7}  "
        f"loop {r['loop_wall_s']:>6.0f}s  all {r['wall_s']:>6.0f}s  iterations {r['iterations']}  "
        f"held-out seed {c.get('seed_passed')}/{c.get('tasks')} P* {c.get('best_passed')}/{c.get('tasks')}"
    )


async def main(args: argparse.Namespace) -> None:
    base = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    model_file = require_model_file(base)
    training = TrainingConfig(
        k_real=args.k_real, k_synthetic=args.k_synthetic, plus=True, held_out_limit=args.held_out
    )
    # the paper's selection in both loops: they differ only in what they pay for
    config = RefineConfig(n=args.n, k_max=args.k_max, patience=args.patience, accept_p=None)
    size = "0.5b" if args.small else "1.5b"
    out = RESULTS / f"refine-humaneval-reference-{size}{'-' + args.label if args.label else ''}.json"
    with tempfile.TemporaryDirectory() as tmp:
        caches = {name: Path(tmp) / name for name in ("optimised", "reference")}

        def settings_for(name: str) -> Settings:
            model = base.model.model_copy(update={"path": model_file})
            return base.model_copy(update={"cache_dir": caches[name], "model": model})

        optimised = await one_loop(settings_for("optimised"), training, config)
        print(line("optimised", optimised), flush=True)
        shutil.copytree(caches["optimised"] / "llm", caches["reference"] / "llm")
        reference = await one_loop(
            settings_for("reference"), training, config.model_copy(update={"reference": True})
        )
        print(line("reference", reference), flush=True)
    ratio = optimised["task_completion_tokens"] / max(1, reference["task_completion_tokens"])
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model_file.name,
        "training": training.model_dump(),
        "config": config.model_dump(),
        "optimised": optimised,
        "reference": reference,
        "task_tokens_optimised_over_reference": round(ratio, 3),
        "wall_optimised_over_reference": round(optimised["wall_s"] / max(1.0, reference["wall_s"]), 3),
        "same_best_prompt": optimised["best_prompt"] == reference["best_prompt"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"task tokens optimised/reference {ratio:.2f}; written {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the 0.5B model")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--k-max", type=int, default=10)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--k-real", type=int, default=10)
    parser.add_argument("--k-synthetic", type=int, default=10)
    parser.add_argument("--held-out", type=int, default=None, help="held-out tasks (default: all 164)")
    parser.add_argument("--label", default="", help="a suffix for the result file, e.g. the setting")
    asyncio.run(main(parser.parse_args()))
