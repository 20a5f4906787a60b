"""Which piece of the search helps: the same refinement with each option on its own and all
together, on the paper's HumanEval+ setting (MBPP real + synthetic training tasks; all 164
HumanEval+ tasks held out, judged one request at a time).

Every variant uses the same training tasks, seed prompt and budget; runs share the response
cache and the outcome store, so the seed's held-out answers are paid once and a killed
ablation resumes where it stopped (run it again with the same arguments). One result file
per variant, in the refinement run format: results/refine-humaneval-ablation-<variant>-<model>.json
(apart from the headline runs, results/refine-humaneval-paper-<model>.json, which use the
paper's full budget).

    .venv/bin/python benchmarks/ablation.py [--small] [--variants paper,robust,...]
        [--n 6] [--k-max 3] [--k-real 10] [--k-synthetic 10] [--held-out N] [--mutator default|small]

`--mutator`: the other embedded model writes the variants and reflections (issue 15, item 5);
its files are named ...-<variant>-<model>-mutator-<mutator model>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from mutator_model import SIZES, with_mutator  # a sibling: these scripts run as files
from prochemy.optimizer.config import load_settings
from prochemy.optimizer.loop.refine import Progress, RefineConfig
from prochemy.optimizer.loop.stats import sign_test_p
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks.training import TrainingConfig

RESULTS = Path(__file__).resolve().parent / "results"
# name -> the options of each variant; every row but significance and all selects as the paper
# does (no gate: the loop's default gate would keep the seed in each), so each piece is
# measured on its own
VARIANTS: dict[str, dict] = {
    "paper": {"recipe": "paper"},  # Prochemy as published
    "robust": {"accept_p": None},
    "reflect": {"reflect": 0.5, "accept_p": None},
    "structure": {"structure": 0.3, "accept_p": None},
    "significance": {"accept_p": 0.1},
    "racing": {"race_batch": 5, "accept_p": None},
    "all": {"reflect": 0.5, "structure": 0.3, "accept_p": 0.1, "race_batch": 5},
}


def progress_line(p: Progress) -> None:
    """One line per step of the loop (a run takes the best part of an hour; a log shows where)."""
    best = "-" if p.best_plain is None else f"{100 * p.best_plain:.0f}%"
    print(f"  [{p.phase}] k={p.k}/{p.k_max} {p.message} best={best} tokens={p.tokens:,}", flush=True)


def row(name: str, record: dict) -> str:
    c = record.get("held_out_comparison") or {}
    usage = record.get("usage", {})
    calls = sum(u["calls"] for u in usage.values())  # paid: cache hits are counted apart
    tokens = sum(u["prompt_tokens"] + u["completion_tokens"] for u in usage.values())
    if not c:
        return f"{name:<13} no held-out comparison ({record.get('stop_reason')})"
    wins, losses = len(c["only_best"]), len(c["only_seed"])
    return (
        f"{name:<13} seed {c['seed_passed']:>3}/{c['tasks']}  P* {c['best_passed']:>3}/{c['tasks']}  "
        f"+{wins}/-{losses}  p={sign_test_p(wins, losses):.3f}  adopted={record['adopted']:<7} "
        f"paid calls {calls:>5}  tokens {tokens:>8}  {record['wall_s']:>6.0f}s"
    )


async def main(args: argparse.Namespace) -> None:
    settings = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    size = "0.5b" if args.small else "1.5b"
    if args.mutator and args.mutator != settings.model.choice:
        size += f"-mutator-{SIZES[args.mutator]}"
    training = TrainingConfig(
        k_real=args.k_real, k_synthetic=args.k_synthetic, plus=True, held_out_limit=args.held_out
    )
    lines = []
    for name in args.variants.split(","):
        config = RefineConfig(n=args.n, k_max=args.k_max, patience=args.patience, **VARIANTS[name])
        t0 = time.monotonic()
        async with with_mutator(settings, args.mutator) as run, Session(run) as session:  # a fresh ledger
            done = await session.refine_benchmark(
                training, config, on_progress=progress_line, on_note=lambda m: print(m, flush=True)
            )
        record = json.loads(done.result.model_dump_json())
        record["ablation"] = {
            "variant": name,
            "options": VARIANTS[name],
            "training": training.model_dump(),
            "mutator": SIZES[args.mutator or settings.model.choice],
        }
        out = RESULTS / f"refine-humaneval-ablation-{name}-{size}.json"
        out.write_text(json.dumps(record, indent=1) + "\n")
        lines.append(row(name, record))
        print(f"{lines[-1]}  ({time.monotonic() - t0:.0f}s, {out.name})", flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the 0.5B model")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--n", type=int, default=6)
    parser.add_argument("--k-max", type=int, default=3)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--k-real", type=int, default=10)
    parser.add_argument("--k-synthetic", type=int, default=10)
    parser.add_argument("--held-out", type=int, default=None)
    parser.add_argument("--mutator", choices=list(SIZES), default=None, help="default: the task model")
    asyncio.run(main(parser.parse_args()))
