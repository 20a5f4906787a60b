"""CLI commands on a repository: mine its tests, refine against them, generate a function."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prochemy.optimizer.config import LoadedSettings
from prochemy.optimizer.mining import MiningReport
from prochemy.optimizer.repo_refine import generate_function, mine_cached, refine_repo, split
from prochemy.optimizer.report import RunStore, plot, render
from prochemy.sandbox.splice import splice_function

from .cli_common import estimate, read_prompt, refine_bar, refine_config


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
    for node, message in report.collect_errors:
        lines.append(f"  collection error {node}: {message}")
    lines.append(
        f"functions seen: {report.functions_seen}; tasks mined: {len(report.tasks)}; "
        f"skipped: {report.skip_counts or 'none'}"
    )
    for task in report.tasks:
        assert task.repo is not None
        lines.append(f"  task {task.id} ({len(task.repo.node_ids)} related tests)")
    for skip in report.skipped:
        lines.append(f"  skipped {skip.function}: {skip.reason}")
    return "\n".join(lines)


async def cmd_mine(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    report = await mine_cached(loaded.settings, args.path, lambda m: print(f"{m} ...", file=sys.stderr))
    print(render_mining(report))
    if args.json:
        args.json.write_text(report.model_dump_json(indent=1))
        print(f"written: {args.json}")
    return 0


async def cmd_refine_repo(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    settings = loaded.settings
    rc = refine_config(args)
    print("mining tasks from the tests ...", file=sys.stderr)
    report = await mine_cached(settings, args.path, lambda m: print(f"{m} ...", file=sys.stderr))
    train, held = split(report.tasks, settings.test.held_out_fraction, args.k_real, rc.seed)
    held = held[: args.held_out] if args.held_out is not None else held
    print(
        f"{len(report.tasks)} tasks mined from {report.tests_passing} passing tests: "
        f"{len(train)} to train on (+ up to {args.k_synthetic} variants), {len(held)} held out",
        file=sys.stderr,
    )
    print(estimate(settings, rc, len(train), args.k_synthetic, len(held)), file=sys.stderr)
    with refine_bar(rc) as on_progress:
        done = await refine_repo(
            settings,
            args.path,
            rc,
            k_real=args.k_real,
            k_synthetic=args.k_synthetic,
            seed_prompt=read_prompt(args.prompt),
            held_out_limit=args.held_out,
            on_progress=on_progress,
        )
    runs = RunStore(settings.cache_dir / "runs")
    path = runs.save(done.result)
    print(render(done.result))
    png = plot(done.result, args.plot or path.with_suffix(".png"))
    s = done.synthesis
    print(f"synthetic variants: {s.kept} kept of {s.generated} written; rejected: {s.rejected or 'none'}")
    print(
        f"stored for {done.record.root}: the {done.record.current.adopted} prompt "
        f"({len(done.record.history)} earlier refinement(s) kept in its history)"
    )
    print(f"run: {path}\nplot: {png}")
    return 0


async def cmd_generate_function(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    prompt = read_prompt(args.prompt) if args.prompt else None
    done = await generate_function(
        loaded.settings, args.path, args.function, check=args.check or args.apply, prompt=prompt
    )
    stale = (
        " (stale: the tests changed since it was refined; run `prochemy refine` again)" if done.stale else ""
    )
    print(f"# prompt: {done.prompt_source}{stale}", file=sys.stderr)
    print(done.generation.code)
    if done.check is not None:
        verdict = (
            "PASSED" if done.check.passed else f"{done.check.outcome.value.upper()}: {done.check.detail}"
        )
        assert done.task.repo is not None
        print(f"# related tests ({len(done.task.repo.node_ids)}): {verdict}", file=sys.stderr)
    elif done.check_note:
        print(f"# {done.check_note}", file=sys.stderr)
    if args.apply:
        if done.check is None or not done.check.passed:
            print("# not applied: the related tests did not pass", file=sys.stderr)
            return 1
        target = done.task.repo
        assert target is not None
        module = Path(target.root) / target.module
        module.write_text(splice_function(module.read_text(), target.qualname, done.generation.code))
        print(f"# written into {module}", file=sys.stderr)
    return 0 if done.check is None or done.check.passed else 1
