"""Repository-runner throughput: candidates judged per second on the example repository.

Ours: warm workers (pytest preloaded), each candidate a fork, the spliced module served by
an import hook. Plain: per candidate, a temporary copy of the repo with the spliced module
written in, and one `python -m pytest <node ids>` process. Same candidates (every mined
task's original implementation and a broken one), same concurrency, alternating rounds;
the verdicts of both must agree.

    python benchmarks/repo_runner_throughput.py [--rounds 3] [--repo examples/shelfkit]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prochemy.optimizer.config import RepoTests
from prochemy.optimizer.mining import mine
from prochemy.sandbox.models import SandboxSettings
from prochemy.sandbox.repo_runner import RepoRunner
from prochemy.sandbox.splice import splice_function

IGNORE = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", ".pytest_cache")


def candidates(tasks) -> list[tuple[str, str, list[str], bool]]:
    """(module, spliced source, node ids, expected pass) for a right and a wrong answer each."""
    out = []
    for t in tasks:
        source = (Path(t.repo.root) / t.repo.module).read_text()
        wrong = f"def {t.entry_point}(*args, **kwargs):\n    return None\n"
        out.append((t.repo.module, splice_function(source, t.repo.qualname, t.reference), t.repo.node_ids, True))
        out.append((t.repo.module, splice_function(source, t.repo.qualname, wrong), t.repo.node_ids, False))
    return out


async def ours(repo: Path, python: str, jobs, workers: int) -> tuple[float, list[bool]]:
    async with RepoRunner(repo, python, SandboxSettings(workers=workers, memory_mb=4096)) as runner:
        t0 = time.monotonic()
        runs = await asyncio.gather(*(runner.run(ids, {mod: src}) for mod, src, ids, _ in jobs))
        return time.monotonic() - t0, [r.passed for r in runs]


def _plain_one(repo: Path, python: str, module: str, source: str, ids: list[str]) -> bool:
    with tempfile.TemporaryDirectory(prefix="plain-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(repo, copy, ignore=IGNORE)
        (copy / module).write_text(source)
        done = subprocess.run([python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *ids],
                              cwd=copy, capture_output=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
        return done.returncode == 0


async def plain(repo: Path, python: str, jobs, workers: int) -> tuple[float, list[bool]]:
    gate = asyncio.Semaphore(workers)

    async def one(job):
        async with gate:
            mod, src, ids, _ = job
            return await asyncio.to_thread(_plain_one, repo, python, mod, src, ids)

    t0 = time.monotonic()
    verdicts = await asyncio.gather(*(one(j) for j in jobs))
    return time.monotonic() - t0, list(verdicts)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=Path("examples/shelfkit"))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/repo-runner-throughput.json"))
    args = parser.parse_args()
    report = await mine(args.repo, RepoTests(python=Path(args.python)), SandboxSettings())
    jobs = candidates(report.tasks)
    expected = [j[3] for j in jobs]
    rates: dict[str, list[float]] = {"ours": [], "plain": []}
    for r in range(args.rounds):
        for name, fn in (("ours", ours), ("plain", plain)):
            wall, verdicts = await fn(args.repo.resolve(), args.python, jobs, args.workers)
            wrong = sum(v != e for v, e in zip(verdicts, expected))
            rates[name].append(round(len(jobs) / wall, 2))
            print(f"round {r + 1} {name:5s}: {len(jobs)} candidates in {wall:.1f}s = "
                  f"{len(jobs) / wall:.1f}/s, verdicts off: {wrong}")
            if wrong:
                raise SystemExit(f"{name}: {wrong} verdicts disagree with the expected ones")
    med = {k: statistics.median(v) for k, v in rates.items()}
    result = {"repo": str(args.repo), "tier": report.tier, "candidates": len(jobs),
              "tasks": len(report.tasks), "workers": args.workers, "rates": rates,
              "median": med, "speedup": round(med["ours"] / med["plain"], 2)}
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
