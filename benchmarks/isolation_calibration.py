"""How often a repository pass can be confirmed with the candidate isolated from pytest.

For every task mined from the example repository and from a real library (toolz, see
mine_repos.py), the task's own reference implementation is judged the way candidates are
(RepoRunner.run_candidate): once in pytest's process, then, if that passes, with the
function served from its own process. A reference that passes in pytest's process but
cannot be confirmed marks a task whose passes the product will not count (what crossed
badly is in the reason). Also times both runs. Mining now leaves such functions out
itself (skip reason "its own code cannot be confirmed in isolation"): a current run counts
them in `left_out_at_mining_as_unconfirmable`, and every mined task is confirmed.

    python benchmarks/isolation_calibration.py [--workdir /tmp/prochemy-real]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

from prochemy.optimizer.config import RepoTests
from prochemy.optimizer.tasks.mining import UNCONFIRMABLE, mine, repo_runner
from prochemy.optimizer.tasks.repo_env import Project
from prochemy.sandbox.models import SandboxSettings

from tests.repos import judge_repo

from .mine_repos import LIBRARY, VERSION, fetch_library


async def calibrate(name: str, root: Path, cfg: RepoTests) -> dict:
    report = await mine(Project.resolve(root, cfg.python), cfg, SandboxSettings())
    rows = []
    async with repo_runner(root, report.interpreter.path, SandboxSettings(), cfg) as runner:
        for task in report.tasks:
            t0 = time.monotonic()
            result = await judge_repo(runner, task, task.reference or "")
            rows.append(
                {
                    "task": task.id,
                    "outcome": result.outcome.value,
                    "detail": result.detail[:300],
                    "seconds": round(time.monotonic() - t0, 3),
                }
            )
    confirmed = sum(r["outcome"] == "passed" for r in rows)
    unconfirmed = [
        r
        for r in rows
        if "not with the candidate isolated" in r["detail"] or "not confirmed in isolation" in r["detail"]
    ]
    reasons = Counter(_reason(r["detail"]) for r in unconfirmed)
    summary = {
        "repo": name,
        "tasks": len(rows),
        "left_out_at_mining_as_unconfirmable": sum(
            s.reason.startswith(UNCONFIRMABLE) for s in report.skipped
        ),
        "confirmed": confirmed,
        "unconfirmed": len(unconfirmed),
        "other": len(rows) - confirmed - len(unconfirmed),
        "reasons": dict(reasons.most_common()),
        "mean_s_per_reference": round(sum(r["seconds"] for r in rows) / max(1, len(rows)), 3),
    }
    print(json.dumps(summary, indent=1), flush=True)
    return {**summary, "rows": rows}


def _reason(detail: str) -> str:
    for key in (
        "cannot be sent",
        "cannot cross",
        "did not import",
        "process ended",
        "could not be read",
        "failed:",
        "error:",
    ):
        if key in detail:
            return key
    return detail[:80]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/prochemy-real"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/isolation-calibration.json"))
    args = parser.parse_args()
    results = [
        await calibrate(
            "examples/shelfkit", Path("examples/shelfkit").resolve(), RepoTests(python=Path(sys.executable))
        ),
        await calibrate(f"{LIBRARY} {VERSION}", fetch_library(args.workdir), RepoTests()),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
