"""Repository-runner throughput: candidates judged per second on the example repository.

Ours: warm workers (pytest preloaded), each candidate a fork, the spliced module served by
an import hook ("ours": one run in pytest's process; "confirmed": as candidates are judged,
a pass then confirmed with the candidate isolated in its own process). Plain: per candidate,
a temporary copy of the repo with the spliced module
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
from prochemy.optimizer.tasks.mining import mine
from prochemy.optimizer.tasks.repo_env import Project
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
        for code, ok in ((t.reference, True), (wrong, False)):
            spliced = splice_function(source, t.repo.qualname, code)
            _qualnames[(t.repo.module, spliced)] = t.repo.qualname
            out.append((t.repo.module, spliced, t.repo.node_ids, ok))
    return out


async def ours(repo: Path, python: str, jobs, workers: int) -> tuple[float, list[bool]]:
    async with RepoRunner(repo, python, SandboxSettings(workers=workers, memory_mb=4096)) as runner:
        t0 = time.monotonic()
        runs = await asyncio.gather(*(runner.run(ids, {mod: src}) for mod, src, ids, _ in jobs))
        return time.monotonic() - t0, [r.passed for r in runs]


async def confirmed(repo: Path, python: str, jobs, workers: int) -> tuple[float, list[bool]]:
    async with RepoRunner(repo, python, SandboxSettings(workers=workers, memory_mb=4096)) as runner:

        async def one(mod: str, src: str, ids: list[str]) -> bool:
            shared = await runner.run(ids, {mod: src})
            if not shared.passed:
                return False
            qualname = _qualnames[(mod, src)]
            return (await runner.run_isolated(ids, mod, qualname, src)).passed

        t0 = time.monotonic()
        verdicts = await asyncio.gather(*(one(mod, src, ids) for mod, src, ids, _ in jobs))
        return time.monotonic() - t0, list(verdicts)


_qualnames: dict[tuple[str, str], str] = {}


def _plain_one(repo: Path, python: str, module: str, source: str, ids: list[str]) -> bool:
    with tempfile.TemporaryDirectory(prefix="plain-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(repo, copy, ignore=IGNORE)
        (copy / module).write_text(source)
        done = subprocess.run(
            [python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *ids],
            cwd=copy,
            capture_output=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        )
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
    cfg = RepoTests(python=Path(args.python))
    report = await mine(Project.resolve(args.repo, cfg.python), cfg, SandboxSettings())
    jobs = candidates(report.tasks)
    expected = [j[3] for j in jobs]
    rates: dict[str, list[float]] = {"ours": [], "confirmed": [], "plain": []}
    for r in range(args.rounds):
        for name, fn in (("ours", ours), ("confirmed", confirmed), ("plain", plain)):
            wall, verdicts = await fn(args.repo.resolve(), args.python, jobs, args.workers)
            wrong = sum(v != e for v, e in zip(verdicts, expected))
            rates[name].append(round(len(jobs) / wall, 2))
            print(
                f"round {r + 1} {name:9s}: {len(jobs)} candidates in {wall:.1f}s = "
                f"{len(jobs) / wall:.1f}/s, verdicts off: {wrong}"
            )
            if wrong and name != "confirmed":  # passes it cannot confirm are counted below
                raise SystemExit(f"{name}: {wrong} verdicts disagree with the expected ones")
    med = {k: statistics.median(v) for k, v in rates.items()}
    result = {
        "repo": str(args.repo),
        "tier": report.tier,
        "candidates": len(jobs),
        "tasks": len(report.tasks),
        "workers": args.workers,
        "rates": rates,
        "median": med,
        "speedup": round(med["ours"] / med["plain"], 2),
        "speedup_confirmed": round(med["confirmed"] / med["plain"], 2),
    }
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
