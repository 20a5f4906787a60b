"""The Java judge: does every HumanEval-X reference pass it, and what does the confinement
cost against a plain `javac && java` loop?

Both run the 164 Python -> Java tasks' reference solutions, 2 at a time (this machine's
cores): the judge through the sandbox (2 warm workers, bwrap; answer in package `cand`,
the facade, the trusted launcher with its SecurityManager), the plain loop as HumanEval-X's
README assembles a task (declaration + solution + test in one Main.java).

    .venv/bin/python benchmarks/java_judge.py [--tasks 0-163]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.judging import Judges
from prochemy.optimizer.tasks.datasets import select_tasks
from prochemy.optimizer.tasks.translation import humaneval_x, load_translation
from prochemy.sandbox import Sandbox
from prochemy.sandbox.java import java_home
from prochemy.sandbox.models import SandboxSettings

RESULTS = Path(__file__).resolve().parent / "results"
PARALLEL = 2


async def through_the_judge(tasks) -> tuple[float, list[dict]]:
    async with Sandbox(SandboxSettings(workers=PARALLEL, timeout_s=60)) as sandbox:
        judges = Judges(function=sandbox)
        t0 = time.monotonic()
        verdicts = await asyncio.gather(*(judges.judge(t, t.reference) for t in tasks))
        wall = time.monotonic() - t0
    rows = [
        {"id": t.id, "outcome": v.result.outcome.value, "detail": v.result.detail, "s": v.result.duration_s}
        for t, v in zip(tasks, verdicts)
    ]
    return wall, rows


def plain_one(n: int, row: dict, bin_dir: Path) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "Main.java").write_text(row["prompt"] + row["canonical_solution"] + "\n" + row["test"])
        built = subprocess.run([str(bin_dir / "javac"), "Main.java"], cwd=tmp, capture_output=True)
        if built.returncode != 0:
            return False
        return (
            subprocess.run(
                [str(bin_dir / "java"), "-cp", ".", "Main"], cwd=tmp, capture_output=True
            ).returncode
            == 0
        )


async def plain_loop(numbers: list[int]) -> tuple[float, int]:
    java = humaneval_x("java")
    bin_dir = java_home() / "bin"
    limit = asyncio.Semaphore(PARALLEL)

    async def one(n: int) -> bool:
        async with limit:
            return await asyncio.to_thread(plain_one, n, java[n], bin_dir)

    t0 = time.monotonic()
    passed = await asyncio.gather(*(one(n) for n in numbers))
    return time.monotonic() - t0, sum(passed)


async def main(args: argparse.Namespace) -> None:
    tasks = list(select_tasks(load_translation("python-java"), args.tasks))
    numbers = [int(t.id.split("/")[1]) for t in tasks]
    judge_wall, rows = await through_the_judge(tasks)
    passed = sum(r["outcome"] == "passed" for r in rows)
    print(
        f"judge: {passed}/{len(rows)} references pass, {judge_wall:.1f}s, "
        f"{len(rows) / judge_wall:.2f} tasks/s"
    )
    for r in rows:
        if r["outcome"] != "passed":
            print(f"  {r['id']}: {r['outcome']} {r['detail'][:200]}")
    plain_wall, plain_passed = await plain_loop(numbers)
    print(
        f"plain javac && java: {plain_passed}/{len(numbers)} pass, {plain_wall:.1f}s, "
        f"{len(numbers) / plain_wall:.2f} tasks/s"
    )
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "jdk": str(java_home()),
        "parallel": PARALLEL,
        "tasks": len(rows),
        "judge": {
            "passed": passed,
            "wall_s": round(judge_wall, 1),
            "tasks_per_s": round(len(rows) / judge_wall, 3),
        },
        "plain": {
            "passed": plain_passed,
            "wall_s": round(plain_wall, 1),
            "tasks_per_s": round(len(numbers) / plain_wall, 3),
        },
        "not_passing": [r for r in rows if r["outcome"] != "passed"],
        "per_task_s": {r["id"]: r["s"] for r in rows},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "java-judge-throughput.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out}", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=None, help="e.g. 0-19 (default: all 164)")
    asyncio.run(main(parser.parse_args()))
