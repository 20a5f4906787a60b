"""The containment table: every hostile candidate of tests/hostile/attacks.py through the
function harness in both tiers, and the repository attacks through the repository runner
(in pytest's process only, and as `prochemy` judges them: confirmed in isolation). Prints a table and writes
benchmarks/results/hostile-matrix.{json,md}.

    .venv/bin/python benchmarks/hostile_matrix.py
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

# `tests` from the repository, after site-packages: its bare `prochemy/` folder must not
# shadow an installed (non-editable) prochemy
sys.path.append(str(Path(__file__).resolve().parent.parent))

from prochemy.optimizer.tasks import RepoTarget, RepoTask  # noqa: E402
from prochemy.sandbox import Sandbox  # noqa: E402
from prochemy.sandbox.isolation import SandboxUnavailable  # noqa: E402
from prochemy.sandbox.models import SandboxSettings  # noqa: E402
from prochemy.sandbox.repo_runner import RepoRunner  # noqa: E402
from prochemy.sandbox.splice import splice_function  # noqa: E402

from tests.hostile.attacks import FUNCTION_ATTACKS, REPO_ATTACKS, REPO_RIGHT_ANSWERS  # noqa: E402
from tests.hostile.host import contained, descendants, run_attack, settings, targets  # noqa: E402
from tests.repos import FLAT, judge_repo, write_repo  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NODES = ["tests/test_calc.py::test_add"]


async def function_rows(tier: str, where: dict[str, str]) -> list[dict]:
    rows = []
    async with Sandbox(settings(tier)) as box:
        await box.judge("def f(x):\n    return 2 * x\n", "assert f(2) == 4\n")
        for attack in FUNCTION_ATTACKS:
            # a right answer first: the worker and its judge are up (an attack may end them)
            assert (await box.judge("def f(x):\n    return 2 * x\n", "assert f(2) == 4\n")).passed
            before = descendants(box)
            result = await run_attack(box, attack, where)
            ok, why = contained(attack, result, where)
            left = descendants(box) - before
            for leftover in glob.glob("/tmp/flood-*"):
                os.unlink(leftover)
            if left > 0:
                ok, why = False, f"{left} process(es) left behind"
            rows.append(
                {
                    "attack": attack.name,
                    "what": attack.what,
                    "runner": "function harness",
                    "tier": tier,
                    "outcome": result.outcome.value,
                    "verdict": "contained"
                    if ok
                    else (
                        "documented limit" if attack.process_limit and tier == "process" else "NOT CONTAINED"
                    ),
                    "note": why or "",
                    "limit": attack.process_limit if not ok else "",
                }
            )
    return rows


async def repo_rows(tier: str) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = write_repo(Path(tmp) / "repo", FLAT)
        task = RepoTask(
            id="calc:add",
            statement="Implement `add`.",
            entry_point="add",
            origin="repository",
            repo=RepoTarget(root=str(repo), module="calc.py", qualname="add", node_ids=NODES, tree="t"),
        )
        # as root, the process tier needs an interpreter an unprivileged uid can run: the
        # tests' world-readable venv of the system Python, when it has been built
        readable = Path("/var/tmp/prochemy-test-venv-pytest-9.2.0/bin/python")
        python = (
            str(readable) if tier == "process" and os.geteuid() == 0 and readable.exists() else sys.executable
        )
        try:
            runner = RepoRunner(repo, python, SandboxSettings(level=tier))
            await runner.sandbox.start()
        except SandboxUnavailable as e:
            return [
                {
                    "attack": "any",
                    "runner": "repository runner",
                    "tier": tier,
                    "outcome": "refused",
                    "verdict": "refused to run (documented)",
                    "note": str(e)[:200],
                    "what": "",
                }
            ]
        try:
            for name, code in sorted(REPO_ATTACKS.items()):
                spliced = splice_function((repo / "calc.py").read_text(), "add", code)
                raw = (await runner.run(NODES, {"calc.py": spliced})).result
                judged = await judge_repo(runner, task, code)
                for mode, result in (("in pytest's process only", raw), ("as prochemy judges it", judged)):
                    if not result.passed:
                        verdict = "contained"
                    elif not mode.endswith("only"):
                        verdict = "NOT CONTAINED"
                    elif name in REPO_RIGHT_ANSWERS:
                        verdict = "right answer, passes there"
                    else:
                        verdict = "forged there (why a pass is confirmed)"
                    rows.append(
                        {
                            "attack": name,
                            "runner": f"repository runner, {mode}",
                            "tier": tier,
                            "outcome": result.outcome.value,
                            "verdict": verdict,
                            "note": result.detail[:160],
                            "what": "",
                        }
                    )
        finally:
            await runner.close()
    return rows


async def main() -> None:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, targets(Path(tmp)) as where:
        for tier in ("bwrap", "process"):
            rows += await function_rows(tier, where)
            rows += await repo_rows(tier)
    record = {
        "benchmark": "hostile candidates: containment by runner and tier",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "euid": os.geteuid(),
        "rows": rows,
        "summary": {v: sum(r["verdict"] == v for r in rows) for v in sorted({r["verdict"] for r in rows})},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hostile-matrix.json").write_text(json.dumps(record, indent=1))
    lines = ["| attack | runner | tier | outcome | verdict | note |", "|---|---|---|---|---|---|"]
    for r in rows:
        note = (r.get("limit") or r["note"]).replace("|", "/").replace("\n", " ")[:120]
        lines.append(
            f"| {r['attack']} | {r['runner']} | {r['tier']} | {r['outcome']} | {r['verdict']} | {note} |"
        )
    table = "\n".join(lines)
    (RESULTS / "hostile-matrix.md").write_text(
        f"# Hostile candidates ({record['date']}, euid {os.geteuid()})\n\n"
        f"{table}\n\nsummary: {record['summary']}\n"
    )
    print(table)
    print("summary:", record["summary"])


if __name__ == "__main__":
    asyncio.run(main())
