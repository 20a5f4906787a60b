"""Pieces the CLI commands share: the seed prompt file, the cost estimate, the progress bar."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prochemy.optimizer.config import Settings
from prochemy.optimizer.generation import SEED_PROMPT
from prochemy.optimizer.loop.plot import plot
from prochemy.optimizer.loop.refine import Progress, RefineConfig, RefineResult
from tqdm import tqdm


def read_prompt(path: Path | None, default: str = SEED_PROMPT) -> str:
    return default if path is None else path.read_text().strip()


_TOKENS_PER_ANSWER = {"default": 199, "small": 327}


def estimate(settings: Settings, rc: RefineConfig, k_real: int, k_synthetic: int, held: int) -> str:
    """An upper bound of the calls and tokens a refinement may pay for."""
    train = k_real + k_synthetic
    per_answer = (
        _TOKENS_PER_ANSWER.get(settings.model.choice, 250) if settings.endpoint.base_url is None else 250
    )
    synth = k_synthetic * 2
    mutations = rc.k_max * (rc.n - 1) * 2
    answers = rc.k_max * (rc.n - 1) * train + train + 2 * held + max((rc.screen or 0) - k_real, 0)
    calls = synth + mutations + answers
    tokens = synth * 1500 + mutations * 600 + answers * (per_answer + 250)
    return (
        f"estimate (upper bound, every iteration runs): {calls:,} LLM calls, ~{tokens:,} tokens "
        f"({answers:,} answers at ~{per_answer} completion tokens, {mutations} mutation and "
        f"{synth} synthesis calls); cached answers cost nothing"
    )


def refine_config(args: argparse.Namespace) -> RefineConfig:
    return RefineConfig(
        n=args.n,
        k_max=args.k_max,
        patience=args.patience,
        seed=args.seed,
        recipe=args.recipe,
        reflect=args.reflect,
        structure=args.structure,
        race_batch=args.race,
        screen=args.screen,
        reference=args.reference_loop,
        max_calls=args.max_calls,
        max_tokens_total=args.max_tokens_total,
        held_out_serial=not args.batched_held_out,
        # not given: the loop's default for the recipe (the paper's selection for `paper`)
        **({} if args.accept_p is None else {"accept_p": args.accept_p}),
    )


@contextmanager
def refine_bar(rc: RefineConfig) -> Iterator[Callable[[Progress], None]]:
    """A progress bar: iteration k of k_max, best training pass@1, tokens so far."""
    with tqdm(total=rc.k_max, desc="refine", unit="iter") as bar:

        def on_progress(p: Progress) -> None:
            if p.phase in ("mining", "screening", "synthesis"):
                bar.set_postfix_str(p.message)
                return
            if p.phase == "iteration" and p.message == "mutating" and p.k > 1:
                bar.update()
            elif p.phase in ("held-out", "done"):
                bar.update(max(p.k - bar.n, 0))
            best = "-" if p.best_plain is None else f"{100 * p.best_plain:.0f}%"
            bar.set_postfix_str(f"k={p.k}/{p.k_max} {p.message} best={best} tokens={p.tokens:,}")

        yield on_progress


def crash_log(error: BaseException) -> Path:
    """Write an unexpected error's traceback where a bug report can quote it."""
    import traceback

    import platformdirs

    path = Path(platformdirs.user_log_dir("prochemy")) / "prochemy-cli-crash.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("".join(traceback.format_exception(error)) + "\n")
    return path


def plot_line(result: RefineResult, path: Path) -> str:
    """Where the trajectory plot went (matplotlib comes with the benchmark extra)."""
    png = plot(result, path)
    return f"plot: {png}" if png is not None else "plot: none (pip install 'prochemy[bench]' for plots)"
