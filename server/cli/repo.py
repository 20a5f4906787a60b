"""CLI commands on a repository: mine its tests, refine against them, generate a function."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prochemy.optimizer.config import LoadedSettings
from prochemy.optimizer.guided import Attempt, describe_attempt
from prochemy.optimizer.loop.report import render
from prochemy.optimizer.repo_models import NotConfirmed
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks import RepoTask
from prochemy.optimizer.tasks.mining import MiningReport
from prochemy.optimizer.tasks.sampling import split

from .common import estimate, plot_line, read_prompt, refine_bar, refine_config


def render_mining(report: MiningReport) -> str:
    lines = [
        f"project: {report.root}",
        f"python: {report.interpreter.path} (pytest {report.interpreter.pytest_version}; "
        f"{report.interpreter.reason}); sandbox tier: {report.tier}",
        f"baseline: {report.tests_passing} of {report.tests_total} tests pass "
        f"({report.baseline_s:.1f}s); mining took {report.mining_s:.1f}s",
    ]
    for t in report.excluded:
        lines.append(f"  excluded {t.node_id}: {t.status} {t.message}".rstrip())
        if t.hint:
            lines.append(f"    -> {t.hint}")
    for node, message in report.collect_errors:
        lines.append(f"  collection error {node}: {message}")
    lines.append(
        f"functions seen: {report.functions_seen}; tasks mined: {len(report.tasks)}; "
        f"skipped: {report.skip_counts or 'none'}"
    )
    for task in report.tasks:
        related = len(task.repo.node_ids) if isinstance(task, RepoTask) else 0
        lines.append(f"  task {task.id} ({related} related tests)")
    for skip in report.skipped:
        lines.append(f"  skipped {skip.function}: {skip.reason}")
        if skip.hint:
            lines.append(f"    -> {skip.hint}")
    for skip in report.unchecked:
        lines.append(f"  NOT CHECKED {skip.function}: {skip.reason}")
    if report.unchecked:
        lines.append(
            f"{len(report.unchecked)} function(s) could not be checked (the runs ended early); "
            "this report is not cached: run `prochemy mine` again, on a quieter machine or with a "
            "larger test.test_timeout_s"
        )
    return "\n".join(lines)


def _say(message: str) -> None:
    print(f"{message} ...", file=sys.stderr)


async def cmd_mine(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    async with Session(loaded.settings) as session:
        report = await session.mine(args.path, _say)
    print(render_mining(report))
    if args.json:
        args.json.write_text(report.model_dump_json(indent=1))
        print(f"written: {args.json}")
    return 0


async def cmd_refine_repo(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    settings = loaded.settings
    rc = refine_config(args)
    async with Session(settings) as session:
        _say("mining tasks from the tests")
        report = await session.mine(args.path, _say)
        train, held = split(report.tasks, settings.test.held_out_fraction, args.k_real, rc.seed)
        held = held[: args.held_out] if args.held_out is not None else held
        print(
            f"{len(report.tasks)} tasks mined from {report.tests_passing} passing tests: "
            f"{len(train)} to train on (+ up to {args.k_synthetic} variants), {len(held)} held out",
            file=sys.stderr,
        )
        print(estimate(settings, rc, len(train), args.k_synthetic, len(held)), file=sys.stderr)
        with refine_bar(rc) as on_progress:
            done = await session.refine_repository(
                args.path,
                rc,
                k_real=args.k_real,
                k_synthetic=args.k_synthetic,
                seed_prompt=read_prompt(args.prompt),
                held_out_limit=args.held_out,
                on_progress=on_progress,
            )
    print(render(done.result))
    png = plot_line(done.result, args.plot or Path(done.path).with_suffix(".png"))
    s = done.synthesis
    print(f"synthetic variants: {s.kept} kept of {s.generated} written; rejected: {s.rejected or 'none'}")
    print(
        f"stored for {done.record.root}: the {done.record.current.adopted} prompt "
        f"({len(done.record.history)} earlier refinement(s) kept in its history)"
    )
    print(f"run: {done.path}\n{png}")
    return 0


async def cmd_generate_function(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    prompt = read_prompt(args.prompt) if args.prompt else None
    most = loaded.settings.generate.candidates

    def on_attempt(a: Attempt) -> None:
        print(f"# {describe_attempt(a, most)}", file=sys.stderr, flush=True)

    async with Session(loaded.settings) as session:
        done = await session.generate_function(
            args.path, args.function, check=args.check or args.apply, prompt=prompt, on_attempt=on_attempt
        )
        stale = " (stale: the tests changed since it was refined; run `prochemy refine` again)"
        print(f"# prompt: {done.prompt_source}{stale if done.stale else ''}", file=sys.stderr)
        print(done.generation.code)
        if done.check is not None:
            verdict = (
                "PASSED" if done.check.passed else f"{done.check.outcome.value.upper()}: {done.check.detail}"
            )
            print(f"# related tests ({len(done.task.repo.node_ids)}): {verdict}", file=sys.stderr)
            if done.guided is not None and len(done.guided.attempts) > 1:
                g = done.guided
                print(
                    f"# offered candidate {g.best.number} of {len(g.attempts)} ({g.stop}; "
                    f"{g.completion_tokens} tokens)",
                    file=sys.stderr,
                )
        elif done.check_note:
            print(f"# {done.check_note}", file=sys.stderr)
        if args.apply:
            try:
                module = session.apply(done)
            except NotConfirmed as e:
                print(f"# not applied: {e}", file=sys.stderr)
                return 1
            print(f"# written into {module}", file=sys.stderr)
    return 0 if done.check is None or done.check.passed else 1
