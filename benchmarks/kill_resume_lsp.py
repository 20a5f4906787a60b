"""SIGKILL the language server in the middle of "Refine prompt for this repo" at seeded
points (real server over stdio, stub LLM over HTTP), start it again, refine again, and
check that the stored result equals the reference and how many LLM calls were paid twice.
Writes benchmarks/results/kill-resume-lsp.json.

    .venv/bin/python benchmarks/kill_resume_lsp.py [--points 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# `tests` from the repository, after site-packages: its bare `prochemy/` folder must not
# shadow an installed (non-editable) prochemy
sys.path.append(str(Path(__file__).resolve().parent.parent))

from benchmarks.kill_resume import outcome  # noqa: E402
from tests.e2e.test_repo_refine import REPO, responder  # noqa: E402
from tests.lsp_client import RawClient  # noqa: E402
from tests.repos import write_repo  # noqa: E402
from tests.stub_llm import StubLLM  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
EDITOR = {"k_real": 2, "k_synthetic": 2, "n": 3, "k_max": 3, "patience": 2, "background_refine": False}


def server(repo: Path, cache: Path, stub: StubLLM) -> RawClient:
    options = {
        "endpoint": {"base_url": stub.url, "model": "stub-model"},
        "retries": 0,
        "cache_dir": str(cache),
        "editor": EDITOR,
        "test": {"python": sys.executable, "held_out_fraction": 0.5},
    }
    return RawClient(repo, cache, options)


def refine(client: RawClient) -> None:
    reply = client.request("workspace/executeCommand", {"command": "prochemy.refinePrompt", "arguments": []})
    assert "result" in reply, reply


def wait_done(client: RawClient, timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.request("workspace/executeCommand", {"command": "prochemy.status", "arguments": []})
        jobs = status["result"]["jobs"]
        if jobs and jobs[-1]["state"] != "running":
            return jobs[-1]["state"]
        time.sleep(0.3)
    raise AssertionError("the refinement did not end")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    stub = StubLLM(responder=responder).start()
    rows: list[dict] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            repo = write_repo(Path(tmp) / "repo", REPO)
            cache = Path(tmp) / "ref"
            cache.mkdir()
            client = server(repo, cache, stub)
            t0 = time.monotonic()
            refine(client)
            assert wait_done(client) == "done"
            wall = time.monotonic() - t0
            client.close()
            reference, reference_calls = outcome(cache), len(stub.completions)
            print(f"reference: {reference_calls} calls, {wall:.1f}s, adopted {reference['adopted']}")
            rng = random.Random(args.seed)
            for point in range(args.points):
                cache = Path(tmp) / f"c{point}"
                cache.mkdir()
                delay = rng.uniform(0.05, 0.85) * wall
                first = len(stub.completions)
                client = server(repo, cache, stub)
                refine(client)
                time.sleep(delay)
                status = client.request(
                    "workspace/executeCommand", {"command": "prochemy.status", "arguments": []}
                )
                killed = status["result"]["jobs"][-1]["state"] == "running"
                os.killpg(client.process.pid, signal.SIGKILL)  # the server and all it started
                client.process.wait()
                if not killed:
                    rows.append({"point": point, "kill_after_s": round(delay, 2), "killed": False})
                    print(json.dumps(rows[-1]))
                    continue
                before = len(stub.completions)
                client = server(repo, cache, stub)
                refine(client)
                state = wait_done(client)
                client.close()
                paid = len(stub.completions) - first
                rows.append(
                    {
                        "point": point,
                        "kill_after_s": round(delay, 2),
                        "killed": True,
                        "calls_before_kill": before - first,
                        "state": state,
                        "calls_after_restart": len(stub.completions) - before,
                        "paid_twice": paid - reference_calls,
                        "same_result": state == "done" and outcome(cache) == reference,
                    }
                )
                print(json.dumps(rows[-1]))
    finally:
        stub.stop()
    killed = [r for r in rows if r["killed"]]
    record = {
        "benchmark": "SIGKILL of prochemy-lsp during refinePrompt at seeded points, then again",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "editor": EDITOR,
        "reference_calls": reference_calls,
        "reference_wall_s": round(wall, 1),
        "rows": rows,
        "summary": {
            "points": len(rows),
            "killed": len(killed),
            "same_result": sum(r["same_result"] for r in killed),
            "paid_twice_total": sum(r["paid_twice"] for r in killed),
            "paid_twice_max": max((r["paid_twice"] for r in killed), default=0),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "kill-resume-lsp.json").write_text(json.dumps(record, indent=1))
    print("summary:", record["summary"])


if __name__ == "__main__":
    main()
