"""Can a richer prompt help at all? The seed prompt as it is, against the same instruction
with worked examples and against it in the plan style, on all of HumanEval+, paired task by
task, one request at a time (issue 15, item 3).

A refinement's structure operator can only find what exists: if no number of worked
examples and neither answer style moves the seed's held-out pass rate on 164 paired tasks,
a search over 10-40 training tasks will not find a gain there either. This measures the
pieces directly, without a search and its winner's curse, on tasks no choice was made on.

Worked examples are retrieved per task (tasks/examples.py: word overlap of the statements)
from a bank of verified solutions that never holds a HumanEval task: the reference solutions
of MBPP's training split (task ids 601-974), the pool the refinement's training tasks are
drawn from. Every arm shares the response cache and the outcome store with the refinement
runs, so the seed's answers are the ones a refinement's held-out check paid (or pays).

    .venv/bin/python benchmarks/structure_probe.py [--small] [--examples 2] [--arms examples,plan]
        [--tasks 0-163 | --repo PATH ... [--held-out N]]
    .venv/bin/python benchmarks/structure_probe.py --pool FILE ...   # arms summed over sets
-> results/structure-probe-humanevalplus-<model>.json (or structure-probe-repos-<model>.json)

With `--repo`, the held-out mined tasks of each repository (the refinement's split, as
benchmarks/repair.py draws them) and examples from the repository's own tested functions,
chosen per target by similarity with a bonus for the target's module (never the target).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT
from prochemy.optimizer.judging import Judges
from prochemy.optimizer.loop.evaluation import Evaluator, TaskOutcome
from prochemy.optimizer.loop.refine import HeldOutComparison, compare
from prochemy.optimizer.loop.report import render_comparison
from prochemy.optimizer.loop.stats import paired_difference_ci, sign_test_p
from prochemy.optimizer.prompts import MAX_EXAMPLES, PromptSpec
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks import TaskSet
from prochemy.optimizer.tasks.datasets import load_humaneval_plus, load_mbpp, select_tasks
from prochemy.optimizer.tasks.examples import benchmark_bank, repository_bank, with_examples

RESULTS = Path(__file__).resolve().parent / "results"


def arm_prompts(examples: int) -> dict[str, str]:
    """Each arm's prompt: the seed's instruction, changed in one piece only."""
    seed = PromptSpec.parse(SEED_PROMPT)
    return {
        "examples": seed.model_copy(update={"examples": examples}).text(),
        "plan": seed.model_copy(update={"style": "plan"}).text(),
    }


def write(out: Path, record: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out}", flush=True)


def mean_tokens(cells: list[TaskOutcome]) -> float:
    return round(sum(c.completion_tokens for c in cells) / max(len(cells), 1), 1)


def pooled(records: list[dict]) -> dict[str, dict]:
    """Each arm's paired counts summed over every set of the given probe records (an arm
    measured on a set in two files counts once: the later file's), with the sign test and
    interval on the pool."""
    sets: dict[str, dict] = {}
    for record in records:
        for name, measured in record["sets"].items():
            sets.setdefault(name, {}).update(measured["arms"])
    arms: dict[str, dict] = {}
    for name, measured in sets.items():
        for arm, row in measured.items():
            c = HeldOutComparison.model_validate(row["held_out_comparison"])
            pool = arms.setdefault(
                arm, {"sets": [], "tasks": 0, "seed": 0, "arm": 0, "only_arm": 0, "only_seed": 0}
            )
            pool["sets"].append(name)
            pool["tasks"] += c.tasks
            pool["seed"] += c.seed_passed
            pool["arm"] += c.best_passed
            pool["only_arm"] += len(c.only_best)
            pool["only_seed"] += len(c.only_seed)
    for pool in arms.values():
        low, high = paired_difference_ci(pool["only_arm"], pool["only_seed"], pool["tasks"])
        pool["sign_p"] = round(sign_test_p(pool["only_arm"], pool["only_seed"]), 4)
        pool["ci_points"] = [round(100 * low, 1), round(100 * high, 1)]
    return arms


async def held_out_sets(session: Session, args: argparse.Namespace) -> list[tuple[str, TaskSet, Judges]]:
    """HumanEval+ with examples from MBPP's training split; or each repository's held-out
    mined tasks (the refinement's split) with examples from its own tested functions."""
    if not args.repo:
        chosen = select_tasks(load_humaneval_plus(), args.tasks)
        bank = benchmark_bank(load_mbpp("train"))
        held = TaskSet(name="humaneval+", tasks=with_examples(chosen, bank))
        return [("humaneval+", held, Judges(function=await session.sandbox()))]
    from repair import held_out_tasks  # a sibling (these scripts run as files); repositories only

    sets = []
    for root in args.repo:
        report = await session.mine(root)
        chosen = held_out_tasks(session, report, args.held_out)
        bank, module_of = repository_bank(report.tasks)
        held = TaskSet(name=root.name, tasks=with_examples(chosen, bank, modules=module_of))
        sets.append((root.name, held, await session.judges(report)))
    return sets


async def main(args: argparse.Namespace) -> None:
    settings = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    prompts = arm_prompts(args.examples)
    arms = [a for a in args.arms.split(",") if a]
    unknown = set(arms) - set(prompts)
    if unknown:
        raise SystemExit(f"unknown arm(s) {sorted(unknown)}: choose from {sorted(prompts)}")
    size = "0.5b" if args.small else "1.5b"
    default = f"structure-probe-{'repos' if args.repo else 'humanevalplus'}-{size}"
    out = RESULTS / f"{args.name or default}.json"  # (with_suffix would eat "0.5b")
    record: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed_prompt": SEED_PROMPT,
        "bank": "each repository's own tested functions (never the target)"
        if args.repo
        else "MBPP train split reference solutions (task ids 601-974)",
        "sets": {},
    }
    async with Session(settings) as session:
        gateway = session.gateway
        record["model"] = (await gateway.describe())["model"]
        for name, held_out, judges in await held_out_sets(session, args):
            evaluator = Evaluator(gateway, judges, session.outcomes, serial=True)
            record["sets"][name] = {"tasks": [t.id for t in held_out.tasks], "arms": {}}
            for arm in arms:
                t0, before = time.monotonic(), gateway.total_usage()
                print(
                    f"{name}, {arm}: {prompts[arm]!r} on {len(held_out.tasks)} tasks, one at a time",
                    flush=True,
                )
                comparison = await compare(evaluator, SEED_PROMPT, prompts[arm], held_out)
                used = gateway.total_usage()
                # stored outcomes now: every answer's length, paid in this run or before
                seed_cells, arm_cells = await evaluator.matrix([SEED_PROMPT, prompts[arm]], held_out.tasks)
                print("\n".join(render_comparison(comparison)), flush=True)
                record["sets"][name]["arms"][arm] = {
                    "prompt": prompts[arm],
                    "held_out_comparison": comparison.model_dump(),
                    "seed_completion_tokens_per_answer": mean_tokens(seed_cells),
                    "arm_completion_tokens_per_answer": mean_tokens(arm_cells),
                    "paid_calls": used.calls - before.calls,
                    "cache_hits": used.cache_hits - before.cache_hits,
                    "prompt_tokens": used.prompt_tokens - before.prompt_tokens,
                    "completion_tokens": used.completion_tokens - before.completion_tokens,
                    "wall_s": round(time.monotonic() - t0, 1),
                }
                write(out, record)  # after each arm: a stopped probe keeps what it measured


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the 0.5B model")
    parser.add_argument("--examples", type=int, default=2, choices=range(1, MAX_EXAMPLES + 1))
    parser.add_argument("--arms", default="examples,plan", help="comma-separated: examples, plan")
    parser.add_argument("--tasks", help="HumanEval tasks, e.g. 0-81 or 3,7,12 (default: all 164)")
    parser.add_argument("--repo", type=Path, action="append", help="a repository (repeatable)")
    parser.add_argument(
        "--held-out", type=int, default=None, help="repositories: at most N held-out tasks each"
    )
    parser.add_argument("--name", help="result file name (default structure-probe-humanevalplus-<model>)")
    parser.add_argument(
        "--pool", type=Path, nargs="+", metavar="FILE", help="no model: pool the arms of recorded probes"
    )
    args = parser.parse_args()
    if args.pool:
        for arm, pool in pooled([json.loads(f.read_text()) for f in args.pool]).items():
            print(f"{arm}: {json.dumps(pool)}")
    else:
        asyncio.run(main(args))
