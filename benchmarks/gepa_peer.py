"""GEPA (PyPI `gepa`, arXiv 2507.19457) as a peer of Prochemy, at a matched budget.

Same task model, seed prompt, training and held-out tasks as `prochemy refine --benchmark
humaneval` (the paper's setting: MBPP real + synthetic training tasks, HumanEval+ held
out), answers and verdicts through this project's gateway, sandbox and outcome store: an
(prompt, task) pair either method has already paid for is replayed, not paid twice. GEPA's
budget is counted in task evaluations (its "metric calls"), matched to the generations a
Prochemy run spent on its training tasks (`--match RUN` reads them from a stored run). The
reflection model is the endpoint's mutation role, at temperature 1, numbered samples.

GEPA's own validation set is the training set (Prochemy has no other); the held-out tasks
are only used once, at the end, for the paired comparison with the seed (serial).

    .venv/bin/python benchmarks/gepa_peer.py [--small] [--budget N | --match RUN] [--held-out N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import gepa
from gepa.core.adapter import EvaluationBatch
from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT
from prochemy.optimizer.judging import Judges
from prochemy.optimizer.llm.gateway import ChatRequest, LLMGateway
from prochemy.optimizer.loop.evaluation import Evaluator, TaskOutcome
from prochemy.optimizer.loop.failures import LABELS
from prochemy.optimizer.loop.refine import compare
from prochemy.optimizer.loop.report import render_comparison
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks import Task
from prochemy.optimizer.tasks.training import TrainingConfig, benchmark_sets

RESULTS = Path(__file__).resolve().parent / "results"
COMPONENT = "system_prompt"
T = TypeVar("T")


class Bridge:
    """GEPA is synchronous and runs in a worker thread; the gateway and sandbox live on
    the main event loop. Every call goes back to that loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()  # type: ignore[arg-type]


class ProchemyAdapter:
    """GEPA's adapter protocol over Prochemy's evaluator: score 1 per passed task; the
    reflective dataset carries each task's statement, the code, and the verdict with its
    failure class (what Prochemy's reflective mutation shows too)."""

    propose_new_texts = None  # GEPA's default proposer, with our reflection model

    def __init__(self, bridge: Bridge, evaluator: Evaluator) -> None:
        self.bridge = bridge
        self.evaluator = evaluator
        self.evaluations = 0

    def evaluate(
        self, batch: list[Task], candidate: dict[str, str], capture_traces: bool = False
    ) -> EvaluationBatch:
        outcomes = self.bridge.run(self.evaluator.matrix([candidate[COMPONENT]], batch))[0]
        self.evaluations += len(batch)
        return EvaluationBatch(
            outputs=[o.code for o in outcomes],
            scores=[1.0 if o.passed else 0.0 for o in outcomes],
            trajectories=list(zip(batch, outcomes)) if capture_traces else None,
        )

    def make_reflective_dataset(
        self, candidate: dict[str, str], eval_batch: EvaluationBatch, components_to_update: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        rows = []
        for task, outcome in eval_batch.trajectories or []:
            assert isinstance(outcome, TaskOutcome)
            feedback = (
                "The code passed the tests."
                if outcome.passed or outcome.failure is None
                else f"The code failed the tests ({LABELS[outcome.failure]}): {outcome.detail[:400]}"
            )
            rows.append(
                {
                    "Inputs": task.statement,
                    "Generated Outputs": outcome.code or "(no code)",
                    "Feedback": feedback,
                }
            )
        return {name: rows for name in components_to_update}


def reflection_model(bridge: Bridge, gateway: LLMGateway, seed: int) -> Any:
    counter = itertools.count()

    def call(prompt: str | list[dict[str, Any]]) -> str:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        reply = bridge.run(
            gateway.chat(
                ChatRequest(
                    role="mutation",
                    messages=messages,
                    temperature=1.0,
                    max_tokens=800,
                    sample=seed * 100_000 + next(counter),
                )
            )
        )
        return reply.text

    return call


def matched_budget(run: Path) -> int:
    """Generations a stored Prochemy run spent on its training tasks."""
    record = json.loads(run.read_text())
    tasks = len(record["train"])
    seen: set[str] = set()
    for it in record["iterations"]:
        seen.update(it["prompts"])
    return len(seen) * tasks


async def main(args: argparse.Namespace) -> None:
    settings = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    t0 = time.monotonic()
    async with Session(settings) as session:
        gateway = session.gateway
        sandbox = await session.sandbox()
        suite = await benchmark_sets(
            gateway,
            sandbox,
            TrainingConfig(k_real=10, k_synthetic=10, plus=True, held_out_limit=args.held_out),
        )
        evaluator = Evaluator(gateway, Judges(function=sandbox), session.outcomes)
        budget = args.budget or (matched_budget(args.match) if args.match else 400)
        model = (await gateway.describe())["model"]
        print(
            f"GEPA {gepa.__version__ if hasattr(gepa, '__version__') else ''} on {model}: "
            f"{len(suite.train.tasks)} training tasks, {len(suite.held_out.tasks)} held out, "
            f"budget {budget} task evaluations",
            flush=True,
        )
        bridge = Bridge(asyncio.get_running_loop())
        adapter = ProchemyAdapter(bridge, evaluator)
        train = list(suite.train.tasks)
        result = await asyncio.to_thread(
            gepa.optimize,
            seed_candidate={COMPONENT: SEED_PROMPT},
            trainset=train,
            valset=train,
            adapter=adapter,
            reflection_lm=reflection_model(bridge, gateway, args.seed),
            max_metric_calls=budget,
            reflection_minibatch_size=3,
            seed=args.seed,
            display_progress_bar=False,
        )
        best = result.best_candidate
        best_prompt = best[COMPONENT] if isinstance(best, dict) else str(best)
        print(f"GEPA's best prompt ({len(result.candidates)} candidates): {best_prompt!r}", flush=True)
        comparison = await compare(evaluator.with_serial(True), SEED_PROMPT, best_prompt, suite.held_out)
        usage = {r: u.model_dump() for r, u in gateway.ledger.items()}
    print("\n".join(render_comparison(comparison)))
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": "gepa",
        "gepa_version": getattr(gepa, "__version__", "0.1.4"),
        "model": model,
        "budget_task_evaluations": budget,
        "task_evaluations": adapter.evaluations,
        "candidates": len(result.candidates),
        "val_aggregate_scores": result.val_aggregate_scores,
        "seed_prompt": SEED_PROMPT,
        "best_prompt": best_prompt,
        "train": [t.id for t in train],
        "held_out": [t.id for t in suite.held_out.tasks],
        "held_out_comparison": comparison.model_dump(),
        "usage": usage,
        "wall_s": round(time.monotonic() - t0, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"refine-humaneval-gepa-{'0.5b' if args.small else '1.5b'}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out} ({record['wall_s']} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the 0.5B model")
    parser.add_argument("--budget", type=int, help="task evaluations GEPA may spend")
    parser.add_argument(
        "--match", type=Path, metavar="RUN", help="a stored Prochemy run whose budget to match"
    )
    parser.add_argument(
        "--held-out", type=int, default=None, help="N random held-out tasks (default: all 164)"
    )
    parser.add_argument("--seed", type=int, default=0)
    asyncio.run(main(parser.parse_args()))
