"""Do shorter answers save tokens without changing pass@1?

The same HumanEval tasks with the seed prompt, answered greedily one request at a time
(serial mode: repeatable), once per mode, fresh answers (no response cache):
- whole:   to the model's own end (`stop_at_code = false`);
- cut:     cut where extraction's code is complete (the default);
- prefill: cut, and the answer started with the task's stub (`prefill_code = embedded`), so
  the model writes the body only instead of repeating signature and docstring.
Prints and records tokens per answer, wall time, pass@1, and per mode how many extracted
programs and verdicts are identical to the first mode's.

    .venv/bin/python benchmarks/answer_cut.py [--tasks 0-39] [--small] [--modes whole,cut] [--name N]
    .venv/bin/python benchmarks/answer_cut.py --merge results/a.json results/b.json   # slices as one
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


MODES = {
    "whole": {"stop_at_code": False},
    "cut": {"stop_at_code": True},
    "prefill": {"stop_at_code": True, "prefill_code": "embedded"},
}


async def one_pass(small: bool, mode: str, tasks: list) -> tuple[list[Generation], list[bool], float, str]:
    overrides = {"model.choice": "small" if small else None, **MODES[mode]}
    settings = load_settings(overrides=overrides).settings
    async with Session(settings, use_cache=False) as session:
        model = (await session.gateway.describe())["model"]
        judges = await session.judges()
        t0 = time.monotonic()
        generations = [await generate(session.gateway, SEED_PROMPT, t, serial=True) for t in tasks]
        wall = time.monotonic() - t0
        verdicts = await asyncio.gather(*(judge(judges, t, g) for t, g in zip(tasks, generations)))
    return generations, [v.result.passed for v in verdicts], wall, model


async def main(spec: str, small: bool, modes: list[str], name: str | None) -> None:
    tasks = select_tasks(load_humaneval(), spec)
    rows = {}
    for mode in modes:
        gens, passed, wall, model = await one_pass(small, mode, tasks)
        tokens = [g.completion_tokens for g in gens]
        rows[mode] = {
            "tokens_mean": round(statistics.mean(tokens), 1),
            "tokens_median": statistics.median(tokens),
            "tokens_total": sum(tokens),
            "tokens": tokens,
            "generation_wall_s": round(wall, 1),
            "passed": sum(passed),
            "codes": [g.code for g in gens],
            "verdicts": passed,
        }
        print(
            f"{mode:7}: {statistics.mean(tokens):.1f} tokens/answer (median {statistics.median(tokens)}), "
            f"generation {wall:.1f}s, passed {sum(passed)}/{len(tasks)}",
            flush=True,
        )
    base = rows[modes[0]]
    record: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model,
        "tasks": [t.id for t in tasks],
        "baseline": modes[0],
    }
    for mode in modes:
        row = rows[mode]
        record[mode] = {k: v for k, v in row.items() if k not in ("codes", "verdicts")}
        record[mode]["verdicts"] = row["verdicts"]
        if mode == modes[0]:
            continue
        record[mode] |= {
            "identical_code": sum(a == b for a, b in zip(base["codes"], row["codes"])),
            "same_verdict": sum(a == b for a, b in zip(base["verdicts"], row["verdicts"])),
            "only_this": [t.id for t, a, b in zip(tasks, base["verdicts"], row["verdicts"]) if b and not a],
            "only_baseline": [
                t.id for t, a, b in zip(tasks, base["verdicts"], row["verdicts"]) if a and not b
            ],
            "identical": [a == b for a, b in zip(base["codes"], row["codes"])],
            "token_saving": round(1 - row["tokens_total"] / base["tokens_total"], 3),
            "speedup": round(base["generation_wall_s"] / row["generation_wall_s"], 2),
        }
        r = record[mode]
        print(
            f"{mode} vs {modes[0]}: identical code {r['identical_code']}/{len(tasks)}, same verdict "
            f"{r['same_verdict']}/{len(tasks)} (+{len(r['only_this'])}/-{len(r['only_baseline'])}), "
            f"token saving {r['token_saving']:.0%}, generation speed-up x{r['speedup']}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    size = "0.5b" if small else "1.5b"
    name = name or ("cut" if modes == ["whole", "cut"] else "-".join(modes))
    out = RESULTS / f"answer-{name}-{size}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out}")


def merge(paths: list[Path]) -> None:
    """Slices of one comparison (same model and modes, disjoint tasks) as one table row per mode.
    Medians need the per-answer token lists, which files from before 2026-11-30 lack."""
    records = [json.loads(p.read_text()) for p in paths]
    if len({r["model"] for r in records}) != 1 or len({r["baseline"] for r in records}) != 1:
        raise SystemExit("the slices are of different models or baselines")
    ids = [t for r in records for t in r["tasks"]]
    if len(ids) != len(set(ids)):
        raise SystemExit("the slices overlap")
    modes = [m for m in records[0] if isinstance(records[0][m], dict)]
    base = records[0]["baseline"]
    for mode in modes:
        rows = [r[mode] for r in records]
        tokens = sum(x["tokens_total"] for x in rows)
        wall = sum(x["generation_wall_s"] for x in rows)
        each = [t for x in rows for t in x.get("tokens", [])]
        median = f" (median {statistics.median(each)})" if len(each) == len(ids) else ""
        line = (
            f"{mode:7}: {tokens / len(ids):.1f} tokens/answer{median}, generation {wall:.1f}s, "
            f"passed {sum(x['passed'] for x in rows)}/{len(ids)}"
        )
        if mode != base:
            base_rows = [r[base] for r in records]
            only = [t for x in rows for t in x["only_this"]]
            lost = [t for x in rows for t in x["only_baseline"]]
            saving = 1 - tokens / sum(x["tokens_total"] for x in base_rows)
            speed = sum(x["generation_wall_s"] for x in base_rows) / wall
            line += (
                f"; vs {base}: identical code {sum(x['identical_code'] for x in rows)}/{len(ids)}, "
                f"+{len(only)} {only} / -{len(lost)} {lost}, token saving {saving:.0%}, x{speed:.2f}"
            )
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="0-39")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--modes", default="whole,cut", help=f"comma-separated, from {','.join(MODES)}")
    parser.add_argument("--name", default=None, help="file name part (default: from the modes)")
    parser.add_argument("--merge", nargs="+", type=Path, help="print the figures of slices recorded apart")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge)
        raise SystemExit(0)
    modes = args.modes.split(",")
    if unknown := [m for m in modes if m not in MODES]:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
    asyncio.run(main(args.tasks, args.small, modes, args.name))
