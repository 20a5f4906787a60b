"""Two test-guided strategies on the same tasks, paired: which one passes more hidden tests?

Reads two result files of `benchmarks/repair.py` whose first attempts are the same greedy
answers (e.g. sampling, and `--alternates`), and prints per generation budget the hidden-test
pass of each, the tasks only one of them passes at the largest budget, and a two-sided sign
test. `--derive-hybrid`: also what "the first J candidates of B, then A's further
candidates" would have offered, read from both files' per-candidate verdicts (A's later
candidates as A drew them: a derivation, not a run).

    .venv/bin/python benchmarks/compare_strategies.py A.json B.json [--derive-hybrid] [--same-first]
        [--out F.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prochemy.optimizer.guided import RANK
from prochemy.optimizer.loop.stats import sign_test_p
from prochemy.sandbox.models import RunOutcome


def per_task(path: Path) -> dict[str, dict]:
    """Every finished task of a run; a stopped run's (`so_far`) too, so a partial run is
    compared on the tasks it finished."""
    record = json.loads(path.read_text())
    rows = [r for group in record["results"].values() for r in group["per_task"]]
    rows += record.get("so_far", {}).get("per_task", [])
    return {r["id"]: r for r in rows}


def offered(candidates: list[dict]) -> bool:
    """The hidden verdict of what a strategy offers: its first candidate of the best visible
    outcome (the first visible pass, else the least bad failure)."""
    return min(candidates, key=lambda c: RANK.get(RunOutcome(c["visible"]), 4))["hidden"]


def hybrid(a: dict, b: dict, first: int, budget: int) -> bool:
    """B's greedy answer and its first `first` further candidates, then A's further ones,
    up to `budget` generations; each strategy stops at its first visible pass."""
    taken = b["attempts"][: 1 + first]
    if not any(c["visible"] == "passed" for c in taken):
        taken = taken + a["attempts"][1:]
    return offered(taken[:budget])


def task_order(task_id: str) -> tuple[str, int, str]:
    """HumanEval/2 before HumanEval/10; a repository task ("pkg/mod.py::name") by name."""
    head, _, tail = task_id.rpartition("/")
    return (head, int(tail), "") if tail.isdigit() else (task_id, 0, "")


def compare(a: dict[str, dict], b: dict[str, dict], derive: bool, same_first_only: bool = False) -> dict:
    ids = sorted(set(a) & set(b), key=task_order)
    same_first = [i for i in ids if a[i]["first_attempt_passed"] == b[i]["first_attempt_passed"]]
    if same_first_only:  # the fair pairing when the two runs' greedy answers differ
        ids = same_first
    budgets = sorted(int(k) for k in a[ids[0]]["hidden_after"])  # repair.py's 1, 2, 4, 8
    top = str(budgets[-1])
    only_a = [i for i in ids if a[i]["hidden_after"][top] and not b[i]["hidden_after"][top]]
    only_b = [i for i in ids if b[i]["hidden_after"][top] and not a[i]["hidden_after"][top]]
    out: dict = {
        "tasks": len(ids),
        "same_first_attempt_verdict": len(same_first),
        "first_attempt": {
            "A": sum(a[i]["first_attempt_passed"] for i in ids),
            "B": sum(b[i]["first_attempt_passed"] for i in ids),
        },
        "hidden_pass_after": {
            k: {
                "A": sum(a[i]["hidden_after"][str(k)] for i in ids),
                "B": sum(b[i]["hidden_after"][str(k)] for i in ids),
            }
            for k in budgets
        },
        f"only_A_at_{top}": only_a,
        f"only_B_at_{top}": only_b,
        "sign_test_p": round(sign_test_p(len(only_b), len(only_a)), 4),
        "generations": {
            "A": sum(len(a[i]["attempts"]) for i in ids),
            "B": sum(len(b[i]["attempts"]) for i in ids),
        },
        "completion_tokens": {
            "A": sum(a[i]["completion_tokens"] for i in ids),
            "B": sum(b[i]["completion_tokens"] for i in ids),
        },
    }
    if derive:
        out["hybrid_B_first_then_A"] = {
            j: {k: sum(hybrid(a[i], b[i], j, k) for i in ids) for k in budgets} for j in (1, 2, 3, 4)
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--derive-hybrid", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--same-first",
        action="store_true",
        help="only the tasks whose first-attempt verdicts agree (runs with different greedy answers)",
    )
    args = parser.parse_args()
    got = compare(per_task(args.a), per_task(args.b), args.derive_hybrid, args.same_first)
    got = {"A": args.a.name, "B": args.b.name, **got}
    print(json.dumps(got, indent=1))
    if args.out:
        args.out.write_text(json.dumps(got, indent=1) + "\n")


if __name__ == "__main__":
    main()
