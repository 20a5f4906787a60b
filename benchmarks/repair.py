"""Does test-guided generation make the model pass hidden tests more often?

The strategy (optimizer/guided.py, the product's) sees only a task's visible tests: the
greedy answer first, then candidates at a temperature (or repaired with the failing test
shown) until one passes them. Every distinct candidate is also judged on hidden tests, so
one run gives the hidden-test pass after 1, 2, 4 and 8 generations.

- HumanEval+ (default): visible = the first 3 asserts of HumanEval's check() (`--visible N`;
  `--visible all`: the whole check(), as in the product where every test is visible); hidden =
  the whole check() plus HumanEval+'s inputs.
- Repositories (`--repo PATH`, repeatable): the held-out mined tasks (the split refinement
  uses); a task's related tests alternate between visible (1st, 3rd, ...) and hidden (2nd,
  4th, ...); tasks with a single related test are reported apart (visible = hidden).
  `--show-tests`: the visible tests' source is also in the prompt (`generate.show_tests`).
- `--serial`: greedy answers one request at a time (batched greedy answers are not
  repeatable), so a run pairs exactly with another serial one and shares its answers.
- `--alternates RUN.json`: the first further candidates are greedy answers under a recorded
  refinement's runners-up (`RefineResult.runners_up`, as the product picks them;
  `--alternate-count`, default 7), samples after them.
- `--feedback-test-only`: feedback that shows the failing test and its output, not the failing
  code (`generate.feedback_code = false`).

    .venv/bin/python benchmarks/repair.py [--tasks 0-163] [--small] [--candidates 8]
        [--temperature 0.8] [--feedback | --feedback-test-only] [--visible 3|all]
        [--repo PATH ... [--held-out N]] [--show-tests] [--serial]
        [--alternates RUN.json [--alternate-count 7]] [--name NAME]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT
from prochemy.optimizer.guided import RANK, Check, Guided, guided_generate
from prochemy.optimizer.judging import Judges
from prochemy.optimizer.loop.refine import RefineConfig, RefineResult
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks import FunctionTask, RepoTask, Task
from prochemy.optimizer.tasks.datasets import load_humaneval_plus, select_tasks
from prochemy.optimizer.tasks.mining import MiningReport
from prochemy.optimizer.tasks.related_tests import show_tests
from prochemy.optimizer.tasks.sampling import split, spread_sample
from prochemy.sandbox.models import RunOutcome, RunResult
from prochemy.sandbox.pyparse import parse_python

RESULTS = Path(__file__).resolve().parent / "results"
BUDGETS = (1, 2, 4, 8)
ALL = 10**6  # `--visible all`: more asserts than any check() holds


def visible_task(task: FunctionTask, asserts: int = 3) -> FunctionTask:
    """The task with check() cut after its first `asserts` assert statements (statements
    before them, such as imports or helper values, kept); no HumanEval+ inputs."""
    module = parse_python(task.test)
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


def with_tests(task: RepoTask, node_ids: list[str]) -> RepoTask:
    return task.model_copy(update={"repo": task.repo.model_copy(update={"node_ids": node_ids})})


def split_ids(task: RepoTask) -> tuple[list[str], list[str]]:
    """(visible, hidden) related tests: alternating, or the one test both ways."""
    ids = task.repo.node_ids
    return (ids, ids) if len(ids) < 2 else (ids[0::2], ids[1::2])


def checks(
    judges: Judges, task: Task, asserts: int = 3
) -> tuple[Check, Callable[[str], Awaitable[bool]], str]:
    """(visible check, hidden judge, group) for a task."""
    if isinstance(task, RepoTask):
        shown_ids, hidden_ids = split_ids(task)
        group = "one related test" if len(task.repo.node_ids) < 2 else "split tests"
        visible, hidden = with_tests(task, shown_ids), with_tests(task, hidden_ids)
    else:
        visible, hidden, group = visible_task(task, asserts), task, "humaneval+"

    async def check(code: str) -> RunResult:
        return (await judges.judge(visible, code)).result

    async def judge_hidden(code: str) -> bool:
        v = await judges.judge(hidden, code, with_plus=True)
        return hidden_pass(v.result, v.plus)

    return check, judge_hidden, group


def alternate_prompts(run_file: Path, count: int) -> list[str]:
    """A recorded refinement's runners-up, as the product picks them (its training tasks
    decide, so the benchmark's tasks stay unseen)."""
    return RefineResult.model_validate_json(run_file.read_text()).runners_up(count)


async def one_task(session: Session, judges: Judges, task: Task, args: argparse.Namespace) -> dict:
    check, judge_hidden, group = checks(judges, task, args.visible)
    plan = session.settings.generate.model_copy(
        update={
            "candidates": args.candidates,
            "temperature": args.temperature,
            "feedback": args.feedback,
            "feedback_code": not args.feedback_test_only,
        }
    )
    shown = task
    if args.show_tests and isinstance(task, RepoTask):  # the visible half only: the rest judges
        shown = show_tests(task, split_ids(task)[0])
    t0 = time.monotonic()
    guided: Guided = await guided_generate(
        session.gateway,
        SEED_PROMPT,
        shown,
        check,
        plan,
        serial=args.serial,
        alternates=args.alternate_prompts,
    )
    wall = time.monotonic() - t0
    hidden: dict[str, bool] = {}
    rows = []
    for a in guided.attempts:
        if a.generation.code not in hidden:
            hidden[a.generation.code] = await judge_hidden(a.generation.code)
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
        "group": group,
        "attempts": rows,
        "chosen": guided.chosen + 1,
        "stop": guided.stop,
        "first_attempt_passed": rows[0]["hidden"],
        "repaired_passed": rows[guided.chosen]["hidden"],
        "hidden_after": after,
        "completion_tokens": guided.completion_tokens,
        "wall_s": round(wall, 1),
    }


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    gained = [r for r in rows if r["repaired_passed"] and not r["first_attempt_passed"]]
    return {
        "tasks": n,
        "first_attempt_passed": sum(r["first_attempt_passed"] for r in rows),
        "repaired_passed": sum(r["repaired_passed"] for r in rows),
        "gained": [r["id"] for r in gained],
        "lost": [r["id"] for r in rows if r["first_attempt_passed"] and not r["repaired_passed"]],
        "hidden_pass_after_generations": {k: sum(r["hidden_after"][k] for r in rows) for k in BUDGETS},
        "visible_passed_but_hidden_failed": sum(
            r["attempts"][r["chosen"] - 1]["visible"] == "passed" and not r["repaired_passed"] for r in rows
        ),
        "generations": sum(len(r["attempts"]) for r in rows),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        # the strategy's extra tokens (beyond the greedy answers) per task it turned into a pass
        "extra_tokens_per_gained_task": round(
            sum(r["completion_tokens"] - r["attempts"][0]["tokens"] for r in rows) / max(1, len(gained))
        ),
    }


def say(model: str, label: str, s: dict) -> None:
    n = max(1, s["tasks"])
    print(
        f"{model} {label}: hidden-test pass first attempt {s['first_attempt_passed']}/{s['tasks']} "
        f"({100 * s['first_attempt_passed'] / n:.1f}%), "
        f"after the strategy {s['repaired_passed']}/{s['tasks']} "
        f"({100 * s['repaired_passed'] / n:.1f}%); after 1/2/4/8 generations "
        f"{list(s['hidden_pass_after_generations'].values())}; {s['generations']} generations, "
        f"{s['completion_tokens']} tokens",
        flush=True,
    )


def default_name(kind: str, args: argparse.Namespace) -> str:
    """repair-<kind>-<model>[-feedback][-t<temperature>][-visible-<n>]: the default strategy
    (sampling at 0.8, 3 visible asserts) keeps the plain name."""
    name = f"repair-{kind}-{'0.5b' if args.small else '1.5b'}"
    if args.feedback:
        name += "-feedback-test-only" if args.feedback_test_only else "-feedback"
    if args.show_tests:
        name += "-tests-shown"
    if args.alternates:
        name += "-alternates"
    if args.temperature != 0.8:
        name += f"-t{args.temperature:g}"
    if not args.repo and args.visible != 3:
        name += f"-visible-{'all' if args.visible >= ALL else args.visible}"
    return name


def held_out_tasks(session: Session, report: MiningReport, limit: int | None) -> list[Task]:
    """The refinement's held-out split of the mined tasks; `limit` of them drawn at random
    across the repository's modules (as `prochemy refine --held-out`)."""
    held = split(report.tasks, session.settings.test.held_out_fraction, 10, RefineConfig().seed)[1]
    return spread_sample(list(held), limit, RefineConfig().seed)


async def main(args: argparse.Namespace) -> None:
    settings = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    t0 = time.monotonic()
    groups: dict[str, list[Task]] = {}
    async with Session(settings) as session:
        if args.repo:
            for root in args.repo:
                report = await session.mine(root.resolve())
                groups[root.resolve().name] = held_out_tasks(session, report, args.held_out)
        else:
            groups["humanevalplus"] = list(select_tasks(load_humaneval_plus(), args.tasks))
        model = (await session.gateway.describe())["model"]
        done, total = 0, sum(len(ts) for ts in groups.values())

        async def run(judges: Judges, task: Task) -> dict:
            nonlocal done
            row = await one_task(session, judges, task, args)
            done += 1
            finished.append(row)
            save(complete=False)
            print(
                f"[{done}/{total}] {task.id}: {len(row['attempts'])} candidate(s), "
                f"first {'pass' if row['first_attempt_passed'] else 'fail'}, "
                f"offered {'pass' if row['repaired_passed'] else 'fail'} ({row['stop']})",
                flush=True,
            )
            return row

        results: dict[str, dict] = {}
        kind = "repos" if args.repo else "humanevalplus"
        out = RESULTS / f"{args.name or default_name(kind, args)}.json"
        strategy = {
            "candidates": args.candidates,
            "temperature": args.temperature,
            "feedback": args.feedback,
            **({"feedback_code": False} if args.feedback_test_only else {}),
            "parallel": settings.generate.parallel or settings.concurrency,
            **(
                {"alternates_from": args.alternates.name, "alternates": args.alternate_prompts}
                if args.alternates
                else {}
            ),
            **({} if args.repo else {"visible_asserts": "all" if args.visible >= ALL else args.visible}),
        }
        finished: list[dict] = []

        def save(complete: bool) -> None:
            """After every task (a killed run leaves its figures so far; a rerun replays the
            cached answers), and once more at the end."""
            partial = (
                {"finished_tasks": len(finished), "summary": summary(finished), "per_task": finished}
                if finished
                else {}
            )
            record = {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "complete": complete,
                "model": model,
                "strategy": strategy,
                "wall_s": round(time.monotonic() - t0, 1),
                "results": results,
                **({} if complete else {"so_far": partial}),
            }
            if complete:
                usage = session.gateway.total_usage()
                solved = sum(s["repaired_passed"] for r in results.values() for s in r["summary"].values())
                # tasks run side by side, so a task's own wall time is no latency; the run's
                # wall per solved task is (it includes cached answers: see cache_hits)
                record.update(
                    paid_calls=usage.calls,
                    cache_hits=usage.cache_hits,
                    wall_s_per_solved_task=round(record["wall_s"] / max(1, solved), 1),
                )
            RESULTS.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(record, indent=1) + "\n")

        for name, tasks in groups.items():
            report = (
                await session.mine(Path(tasks[0].repo.root))
                if tasks and isinstance(tasks[0], RepoTask)
                else None
            )
            judges = await session.judges(report)
            rows = await asyncio.gather(*(run(judges, t) for t in tasks))
            by_group = {
                g: summary([r for r in rows if r["group"] == g]) for g in sorted({r["group"] for r in rows})
            }
            for g, s in by_group.items():
                say(model, f"{name} ({g})", s)
            results[name] = {"summary": by_group, "per_task": rows}
        save(complete=True)
    print(f"written {out} ({round(time.monotonic() - t0, 1)} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=None, help="e.g. 0-19 (default: all 164)")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=0.8)
    feedback = parser.add_mutually_exclusive_group()
    feedback.add_argument("--feedback", action="store_true")
    feedback.add_argument(
        "--feedback-test-only",
        action="store_true",
        help="feedback without the failing code: only its failing test (generate.feedback_code = false)",
    )
    parser.add_argument(
        "--show-tests",
        action="store_true",
        help="repositories: the visible related tests' source in the prompt (generate.show_tests)",
    )
    parser.add_argument(
        "--serial",
        action="store_true",
        help="greedy answers one request at a time: repeatable, so two serial runs pair exactly",
    )
    parser.add_argument(
        "--visible",
        type=lambda v: ALL if v == "all" else int(v),
        default=3,
        help="HumanEval+: asserts of check() the strategy sees (a number or 'all')",
    )
    parser.add_argument("--repo", type=Path, action="append", help="a repository (repeatable)")
    parser.add_argument(
        "--held-out", type=int, default=None, help="repositories: at most N held-out tasks each"
    )
    parser.add_argument(
        "--alternates", type=Path, default=None, help="a refinement's run file: its variants as candidates"
    )
    parser.add_argument("--alternate-count", type=int, default=7)
    parser.add_argument("--name", default=None)
    arguments = parser.parse_args()
    arguments.feedback = arguments.feedback or arguments.feedback_test_only  # a kind of feedback
    arguments.alternate_prompts = (
        alternate_prompts(arguments.alternates, arguments.alternate_count) if arguments.alternates else []
    )
    asyncio.run(main(arguments))
