"""Does test-guided generation make the model pass hidden tests more often? HumanEval+.

Each task's visible tests are the first 3 asserts of HumanEval's check() (what a user's
tests would say); its hidden tests are the whole check() plus HumanEval+'s inputs. The
strategy (optimizer/guided.py, the product's) sees only the visible tests: the greedy answer
first, then candidates at a temperature (or repaired with the failing test shown) until one
passes them. Every distinct candidate is judged on the hidden tests too, so one run gives
the hidden-test pass after 1, 2, 4 and 8 generations.

    .venv/bin/python benchmarks/repair.py [--tasks 0-163] [--small] [--candidates 8]
        [--temperature 0.8] [--feedback] [--name repair-humanevalplus-1.5b]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT
from prochemy.optimizer.guided import RANK, Guided, guided_generate
from prochemy.optimizer.judging import Judges
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks import FunctionTask
from prochemy.optimizer.tasks.datasets import load_humaneval_plus, select_tasks
from prochemy.sandbox.models import RunOutcome, RunResult

RESULTS = Path(__file__).resolve().parent / "results"
BUDGETS = (1, 2, 4, 8)


def visible_task(task: FunctionTask, asserts: int = 3) -> FunctionTask:
    """The task with check() cut after its first `asserts` assert statements (statements
    before them, such as imports or helper values, kept); no HumanEval+ inputs."""
    module = ast.parse(task.test)
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            kept: list[ast.stmt] = []
            seen = 0
            for stmt in node.body:
                if seen >= asserts:
                    break
                kept.append(stmt)
                seen += sum(isinstance(n, ast.Assert) for n in ast.walk(stmt))
            node.body = kept
    return task.model_copy(update={"test": ast.unparse(module), "plus": None})


def hidden_pass(verdict_result: RunResult, plus: RunResult | None) -> bool:
    return verdict_result.passed and (plus is None or plus.passed)


async def one_task(session: Session, judges: Judges, task: FunctionTask, args: argparse.Namespace) -> dict:
    visible = visible_task(task)

    async def check(code: str) -> RunResult:
        return (await judges.judge(visible, code)).result

    plan = session.settings.generate.model_copy(
        update={"candidates": args.candidates, "temperature": args.temperature, "feedback": args.feedback}
    )
    t0 = time.monotonic()
    guided: Guided = await guided_generate(session.gateway, SEED_PROMPT, task, check, plan)
    wall = time.monotonic() - t0
    hidden: dict[str, bool] = {}
    rows = []
    for a in guided.attempts:
        if a.generation.code not in hidden:
            v = await judges.judge(task, a.generation.code, with_plus=True)
            hidden[a.generation.code] = hidden_pass(v.result, v.plus)
        rows.append(
            {
                "how": a.how,
                "visible": a.result.outcome.value,
                "hidden": hidden[a.generation.code],
                "tokens": a.generation.completion_tokens,
                "cached": a.generation.cached,
                "repeat_of": a.repeat_of,
            }
        )
    after = {}
    for k in BUDGETS:  # had the strategy stopped at k generations: the candidate it offers
        offered = min(rows[:k], key=lambda r: RANK.get(RunOutcome(r["visible"]), 4))  # first of the best
        after[k] = offered["hidden"]
    return {
        "id": task.id,
        "attempts": rows,
        "chosen": guided.chosen + 1,
        "stop": guided.stop,
        "first_attempt_passed": rows[0]["hidden"],
        "repaired_passed": rows[guided.chosen]["hidden"],
        "hidden_after": after,
        "completion_tokens": guided.completion_tokens,
        "wall_s": round(wall, 1),
    }


async def main(args: argparse.Namespace) -> None:
    settings = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    tasks = select_tasks(load_humaneval_plus(), args.tasks)
    t0 = time.monotonic()
    async with Session(settings) as session:
        judges = await session.judges()
        model = (await session.gateway.describe())["model"]
        done = 0

        async def run(task: FunctionTask) -> dict:
            nonlocal done
            row = await one_task(session, judges, task, args)
            done += 1
            print(
                f"[{done}/{len(tasks)}] {task.id}: {len(row['attempts'])} candidate(s), "
                f"first {'pass' if row['first_attempt_passed'] else 'fail'}, "
                f"offered {'pass' if row['repaired_passed'] else 'fail'} ({row['stop']})",
                flush=True,
            )
            return row

        rows = await asyncio.gather(*(run(t) for t in tasks))
        usage = session.gateway.total_usage()
    n = len(rows)
    first = sum(r["first_attempt_passed"] for r in rows)
    repaired = sum(r["repaired_passed"] for r in rows)
    after = {k: sum(r["hidden_after"][k] for r in rows) for k in BUDGETS}
    gained = [r for r in rows if r["repaired_passed"] and not r["first_attempt_passed"]]
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model,
        "strategy": {
            "candidates": args.candidates,
            "temperature": args.temperature,
            "feedback": args.feedback,
            "visible": "first 3 asserts of check()",
            "hidden": "check() + HumanEval+ inputs",
        },
        "tasks": n,
        "first_attempt_passed": first,
        "repaired_passed": repaired,
        "lost": [r["id"] for r in rows if r["first_attempt_passed"] and not r["repaired_passed"]],
        "hidden_pass_after_generations": after,
        "visible_passed_but_hidden_failed": sum(
            r["attempts"][r["chosen"] - 1]["visible"] == "passed" and not r["repaired_passed"] for r in rows
        ),
        "generations": sum(len(r["attempts"]) for r in rows),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        "tokens_per_gained_task": round(
            sum(r["completion_tokens"] - r["attempts"][0]["tokens"] for r in rows) / max(1, len(gained))
        ),
        "paid_calls": usage.calls,
        "cache_hits": usage.cache_hits,
        "wall_s": round(time.monotonic() - t0, 1),
        "per_task": rows,
    }
    print(
        f"{model}: hidden-test pass first attempt {first}/{n} ({100 * first / n:.1f}%), "
        f"after the strategy {repaired}/{n} ({100 * repaired / n:.1f}%); "
        f"after 1/2/4/8 generations {[after[k] for k in BUDGETS]}; "
        f"{record['generations']} generations, {record['completion_tokens']} tokens, {record['wall_s']} s"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = args.name or f"repair-humanevalplus-{'0.5b' if args.small else '1.5b'}"
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=None, help="e.g. 0-19 (default: all 164)")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--feedback", action="store_true")
    parser.add_argument("--name", default=None)
    asyncio.run(main(parser.parse_args()))
