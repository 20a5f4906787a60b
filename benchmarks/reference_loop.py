"""What the optimised loop saves against the paper-faithful one, in the same run.

Both loops refine the same seed on the same HumanEval+ benchmark suite (MBPP real +
synthetic training tasks, HumanEval+ held out, judged one request at a time) with the same
settings. The optimised loop runs first on an empty cache of its own: it pays every answer,
so its wall time is a fresh machine's. The reference loop (`RefineConfig.reference`: every
pool member evaluated again every iteration, no stored outcome reused, answers not cut at
the end of their code) then runs on a copy of that cache, so it replays the same synthesis
and mutation answers and pays every task answer itself. Per loop: paid calls and tokens per
role, wall time, P*, held-out pass@1 of seed and P*.

In the paper's setting the reference loop takes hours, more than a session: the caches live
under `--cache` (not a temporary directory), each leg's figures are written as soon as it
ends, and `--resume` continues a stopped leg. A resumed leg replays the answers it paid
before it stopped (any `fresh` request found in its cache), and counts their tokens as
`replayed`: its generated tokens are then paid + replayed, its wall time an estimate
(measured wall x generated / paid task tokens), and the record says so. Across machines,
carry the legs' answers with benchmarks/answers.py (`export --cache DIR/LEG`, then
`import --cache DIR/LEG`).

    .venv/bin/python benchmarks/reference_loop.py [--small] [--n 10] [--k-max 10]
        [--k-real 10] [--k-synthetic 10] [--held-out N] [--label paper]
        [--legs optimised,reference] [--cache DIR] [--resume]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import Settings, default_cache_dir, load_settings
from prochemy.optimizer.llm.local_model import require_model_file
from prochemy.optimizer.loop.refine import Progress, RefineConfig
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks.training import TrainingConfig

RESULTS = Path(__file__).resolve().parent / "results"


LEGS = ("optimised", "reference")


def show_progress(t0: float) -> Callable[[Progress], None]:
    """A line per phase: a leg runs for hours, and where it is says how long is left."""

    def show(p: Progress) -> None:
        best = f" best {p.best_plain:.3f}" if p.best_plain is not None else ""
        print(
            f"[{time.monotonic() - t0:7.0f}s] {p.phase} {p.k}/{p.k_max}{best} "
            f"tokens {p.tokens:,} {p.message}",
            flush=True,
        )

    return show


async def one_loop(
    settings: Settings, training: TrainingConfig, config: RefineConfig, *, resume: bool
) -> dict:
    t0 = time.monotonic()
    async with Session(settings) as session:
        session.gateway.replay_fresh = resume
        done = await session.refine_benchmark(
            training,
            config,
            on_progress=show_progress(t0),
            on_note=lambda m: print(m, flush=True),
        )
    result = done.result
    c = result.held_out_comparison
    usage = {role: u.model_dump() for role, u in result.usage.items()}
    task = result.usage.get("task")
    paid = task.completion_tokens if task else 0
    # the reference loop pays every task answer: those it replays (a resumed leg) were paid
    # by this same leg before it stopped. The optimised loop's replays are its own reuse,
    # free, unless it resumed: then they are counted too (an upper bound, never flattering)
    replayed = task.replayed_completion_tokens if task and (config.reference or resume) else 0
    generated = paid + replayed
    wall = round(time.monotonic() - t0, 1)  # with training-set making and the held-out check
    return {
        "reference": config.reference,
        "resumed": resume,
        "paid_calls": sum(u["calls"] for u in usage.values()),
        "cache_hits": sum(u["cache_hits"] for u in usage.values()),
        "completion_tokens": sum(u["completion_tokens"] for u in usage.values()),
        "task_completion_tokens": paid,
        "task_generated_tokens": generated,
        "usage": usage,
        "iterations": len(result.iterations),
        "stop_reason": result.stop_reason,
        "loop_wall_s": round(sum(it.wall_s for it in result.iterations), 1),
        "refine_wall_s": result.wall_s,
        "wall_s": wall,
        # a resumed leg's replayed answers took no time now: scaled by the tokens they stand for
        "wall_s_estimated": round(wall * generated / paid, 1) if resume and paid else None,
        "best_prompt": result.best_prompt,
        "adopted": result.adopted,
        "held_out": c.model_dump() if c else None,
        "run": json.loads(result.model_dump_json()),
    }


def line(name: str, r: dict) -> str:
    c = r["held_out"] or {}
    wall = f"{r['wall_s']:>6.0f}s" + (
        f" (estimated {r['wall_s_estimated']:.0f}s)" if r.get("wall_s_estimated") else ""
    )
    return (
        f"{name:<10} paid calls {r['paid_calls']:>5}  task tokens generated {r['task_generated_tokens']:>7}  "
        f"loop {r['loop_wall_s']:>6.0f}s  all {wall}  iterations {r['iterations']}  "
        f"held-out seed {c.get('seed_passed')}/{c.get('tasks')} P* {c.get('best_passed')}/{c.get('tasks')}"
    )


def summary(record: dict) -> dict:
    """The ratios, once both legs are in the record."""
    opt, ref = record.get("optimised"), record.get("reference")
    if not (opt and ref):
        return {}
    ratio = opt["task_generated_tokens"] / max(1, ref["task_generated_tokens"])
    ref_wall = ref.get("wall_s_estimated") or ref["wall_s"]
    return {
        "task_tokens_optimised_over_reference": round(ratio, 3),
        "wall_optimised_over_reference": round(opt["wall_s"] / max(1.0, ref_wall), 3),
        "same_best_prompt": opt["best_prompt"] == ref["best_prompt"],
    }


async def main(args: argparse.Namespace) -> None:
    base = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    model_file = require_model_file(base)
    legs = [leg for leg in args.legs.split(",") if leg]
    if unknown := set(legs) - set(LEGS):
        raise SystemExit(f"unknown leg(s) {sorted(unknown)}: choose from {', '.join(LEGS)}")
    training = TrainingConfig(
        k_real=args.k_real, k_synthetic=args.k_synthetic, plus=True, held_out_limit=args.held_out
    )
    # the paper's selection in both loops: they differ only in what they pay for
    config = RefineConfig(n=args.n, k_max=args.k_max, patience=args.patience, accept_p=None)
    size = "0.5b" if args.small else "1.5b"
    out = RESULTS / f"refine-humaneval-reference-{size}{'-' + args.label if args.label else ''}.json"
    record = json.loads(out.read_text()) if out.is_file() else {}
    setting = {"model": model_file.name, "training": training.model_dump(), "config": config.model_dump()}
    if record and {k: record.get(k) for k in setting} != setting:
        raise SystemExit(f"{out} holds another setting: give this one a --label")
    caches = {leg: args.cache / f"{size}-{args.label or 'default'}" / leg for leg in LEGS}
    for leg in legs:
        if caches[leg].exists() and not args.resume:
            raise SystemExit(
                f"{caches[leg]} exists: --resume to continue that leg, or remove it to start afresh"
            )
    # only a leg that ran before resumes: a leg started now pays all it needs, wall time real
    resumed = {leg: args.resume and caches[leg].exists() for leg in LEGS}
    for leg in legs:
        if leg == "reference" and not (caches["reference"] / "llm").exists():
            if not (caches["optimised"] / "llm").exists():
                raise SystemExit(
                    "the reference leg replays the optimised leg's mutations: run that leg first"
                )
            shutil.copytree(caches["optimised"] / "llm", caches["reference"] / "llm")
        settings = base.model_copy(
            update={"cache_dir": caches[leg], "model": base.model.model_copy(update={"path": model_file})}
        )
        leg_config = config.model_copy(update={"reference": leg == "reference"})
        record[leg] = await one_loop(settings, training, leg_config, resume=resumed[leg])
        print(line(leg, record[leg]), flush=True)
        record.update(setting, date=datetime.now(UTC).isoformat(timespec="seconds"))
        record.update(summary(record))
        RESULTS.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=1) + "\n")  # after each leg: hours apart
    if ratio := record.get("task_tokens_optimised_over_reference"):
        print(f"task tokens optimised/reference {ratio:.2f}")
    print(f"written {out}")


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
    parser.add_argument("--legs", default=",".join(LEGS), help="comma-separated: optimised, reference")
    parser.add_argument(
        "--cache",
        type=Path,
        default=default_cache_dir() / "reference-loop",
        help="where each leg's cache lives (per model and label)",
    )
    parser.add_argument("--resume", action="store_true", help="continue a stopped leg from its cache")
    asyncio.run(main(parser.parse_args()))
