"""Mining figures: the example repository and a real public library (toolz, from its PyPI
sdist, with its own venv holding pytest). Prints and records functions seen, tasks mined,
skips by reason, baseline and total time.

    python benchmarks/mine_repos.py [--workdir /tmp/prochemy-real]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tarfile
from pathlib import Path

from prochemy.optimizer.config import RepoTests
from prochemy.optimizer.tasks.mining import MiningReport, mine
from prochemy.optimizer.tasks.repo_env import Project
from prochemy.sandbox.models import SandboxSettings

LIBRARY, VERSION = "toolz", "1.2.0"


def fetch_library(workdir: Path) -> Path:
    """The sdist (which ships the tests) unpacked, with a .venv that has pytest."""
    root = workdir / f"{LIBRARY}-{VERSION}"
    if not root.is_dir():
        workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-binary",
                ":all:",
                "--no-deps",
                f"{LIBRARY}=={VERSION}",
                "-d",
                str(workdir),
            ],
            check=True,
        )
        with tarfile.open(workdir / f"{LIBRARY}-{VERSION}.tar.gz") as tar:
            tar.extractall(workdir, filter="data")
    if not (root / ".venv").is_dir():
        subprocess.run([sys.executable, "-m", "venv", str(root / ".venv")], check=True)
        subprocess.run([str(root / ".venv/bin/pip"), "install", "-q", "pytest==9.2.0"], check=True)
    return root


def summary(name: str, report: MiningReport) -> dict:
    return {
        "repo": name,
        "python": report.interpreter.path,
        "tier": report.tier,
        "tests": report.tests_total,
        "passing": report.tests_passing,
        "excluded": [f"{t.node_id}: {t.status}" for t in report.excluded],
        "functions_seen": report.functions_seen,
        "tasks": len(report.tasks),
        "skipped": report.skip_counts,
        "baseline_s": report.baseline_s,
        "mining_s": report.mining_s,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/prochemy-real"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/mining.json"))
    args = parser.parse_args()
    here = RepoTests(python=Path(sys.executable))
    example = await mine(Project.resolve(Path("examples/shelfkit"), here.python), here, SandboxSettings())
    library = await mine(Project.resolve(fetch_library(args.workdir), None), RepoTests(), SandboxSettings())
    rows = [summary("examples/shelfkit", example), summary(f"{LIBRARY} {VERSION} (PyPI sdist)", library)]
    print(json.dumps(rows, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
