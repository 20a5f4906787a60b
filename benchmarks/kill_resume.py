"""SIGKILL a repository refinement (`prochemy refine PATH`, real CLI, stub LLM over HTTP) at
seeded points, run it again to the end, and check that every rerun ends with the reference
result and how many LLM calls were paid twice. A call in flight at the kill (sent, not yet
stored) is lost and paid again; any repeat beyond those would be a resume bug.

    .venv/bin/python benchmarks/kill_resume.py [--points 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import diskcache

# `tests` from the repository, after site-packages: its bare `prochemy/` folder must not
# shadow an installed (non-editable) prochemy
sys.path.append(str(Path(__file__).resolve().parent.parent))

from tests.e2e.test_repo_refine import REPO, responder  # noqa: E402
from tests.repos import write_repo  # noqa: E402
from tests.stub_llm import StubLLM  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ARGS = ["--k-real", "2", "--k-synthetic", "2", "--n", "3", "--k-max", "3", "--patience", "2"]


def start(repo: Path, cache: Path, stub: StubLLM) -> subprocess.Popen:
    env = dict(
        os.environ,
        PROCHEMY_TEST__PYTHON=sys.executable,
        PROCHEMY_TEST__HELD_OUT_FRACTION="0.5",
        PROCHEMY_CONFIG_FILE=str(cache / "none.toml"),
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prochemy.server.cli.main",
            "refine",
            str(repo),
            *ARGS,
            "--endpoint",
            stub.url,
            "--model-name",
            "stub-model",
            "--cache-dir",
            str(cache),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )


def outcome(cache: Path) -> dict:
    """The stored project record: what a user would get from this refinement."""
    store = diskcache.Cache(str(cache / "projects"))
    try:
        records = [store[k] for k in store.iterkeys()]
    finally:
        store.close()
    assert len(records) == 1, records
    cur = records[0]["current"]
    held = cur["held_out"] or {}
    return {
        "prompt": cur["prompt"],
        "adopted": cur["adopted"],
        "held_out": [held.get("seed_passed"), held.get("best_passed"), held.get("tasks")],
    }


def run_to_end(repo: Path, cache: Path, stub: StubLLM) -> tuple[dict, float]:
    t0 = time.monotonic()
    process = start(repo, cache, stub)
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err.decode()[-2000:]
    return outcome(cache), time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    stub = StubLLM(responder=responder).start()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            repo = write_repo(Path(tmp) / "repo", REPO)
            before = len(stub.completions)
            reference, wall = run_to_end(repo, Path(tmp) / "ref-cache", stub)
            reference_calls = len(stub.completions) - before
            print(f"reference: {reference_calls} LLM calls, {wall:.1f}s, adopted {reference['adopted']}")
            rng = random.Random(args.seed)
            for point in range(args.points):
                cache = Path(tmp) / f"cache-{point}"
                delay = rng.uniform(0.05, 0.85) * wall
                first = len(stub.completions)
                process = start(repo, cache, stub)
                time.sleep(delay)
                killed = process.poll() is None
                if not killed:  # it finished first: a rerun would warm-start, another run
                    process.wait()
                    rows.append({"point": point, "kill_after_s": round(delay, 2), "killed": False})
                    print(json.dumps(rows[-1]))
                    continue
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                in_flight = stub.in_flight
                before_rerun = len(stub.completions)
                result, _ = run_to_end(repo, cache, stub)
                paid = len(stub.completions) - first
                row = {
                    "point": point,
                    "kill_after_s": round(delay, 2),
                    "killed": killed,
                    "calls_before_kill": before_rerun - first,
                    "calls_after_restart": len(stub.completions) - before_rerun,
                    "paid_in_all": paid,
                    "paid_twice": paid - reference_calls,
                    "in_flight_at_kill": in_flight,
                    "same_result": result == reference,
                }
                rows.append(row)
                print(json.dumps(row))
    finally:
        stub.stop()
    record = {
        "benchmark": "SIGKILL of `prochemy refine PATH` at seeded points, then a rerun",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": ARGS,
        "reference_calls": reference_calls,
        "reference_wall_s": round(wall, 1),
        "rows": rows,
        "summary": {
            "points": len(rows),
            "killed": sum(r["killed"] for r in rows),
            "same_result": sum(r.get("same_result", False) for r in rows),
            "paid_twice_total": sum(r.get("paid_twice", 0) for r in rows),
            "paid_twice_max": max((r.get("paid_twice", 0) for r in rows), default=0),
            "in_flight_total": sum(r.get("in_flight_at_kill", 0) for r in rows),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "kill-resume.json").write_text(json.dumps(record, indent=1))
    print("summary:", record["summary"])


if __name__ == "__main__":
    main()
