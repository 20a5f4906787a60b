"""Why a prompt's answers fail: the failure profile of recorded benchmark runs.

Reads `prochemy bench` reports (benchmarks/results/humaneval*-seed-*.json) and classifies
each failing task (optimizer/loop/failures.py). Reports written before the classification
existed are classified from their verdicts alone (outcome and detail, not the code).

    .venv/bin/python benchmarks/failure_profile.py [REPORT.json ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prochemy.optimizer.bench import BenchReport
from prochemy.optimizer.loop.failures import Failure, classify, profile, render_profile

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT = ["humanevalplus-seed-qwen2.5-coder-1.5b.json", "humanevalplus-seed-qwen2.5-coder-0.5b.json"]


def failures_of(report: BenchReport) -> list[tuple[str, Failure, str]]:
    rows = []
    for r in report.results:
        base_passed = r.outcome == "passed"
        outcome, detail = (
            (r.plus_outcome, r.plus_detail or "") if base_passed and r.plus_outcome else (r.outcome, r.detail)
        )
        kind = r.failure or classify(outcome, detail)
        if kind is not None:
            rows.append((r.task_id, kind, detail[:160]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", type=Path)
    args = parser.parse_args()
    record = {}
    for path in args.reports or [RESULTS / name for name in DEFAULT]:
        report = BenchReport.model_validate_json(path.read_text())
        rows = failures_of(report)
        counts = profile(kind for _, kind, _ in rows)
        base = profile(
            classify(r.outcome, r.detail) for r in report.results
        )  # HumanEval's own tests only, for comparison with earlier notes
        print(f"{report.name} ({report.model}, {report.tasks} tasks): {render_profile(counts)}")
        print(f"  base tests only: {render_profile(base)}")
        record[report.name] = {
            "model": report.model,
            "tasks": report.tasks,
            "profile": counts,
            "profile_base_tests": base,
            "failing": [{"task": t, "failure": k.value, "detail": d} for t, k, d in rows],
        }
    out = RESULTS / "failure-profile-seed.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
