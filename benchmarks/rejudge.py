"""A refinement run's held-out answers judged again under today's extraction, from the
response cache only (no LLM call: a missing answer is an error, not a new answer).

For a change to extraction or judging (not to the requests), this says what the stored
figures become without re-paying the answers: per prompt (seed, P*), the held-out verdicts
as stored and as judged now, and the paired comparison recomputed.

    .venv/bin/python benchmarks/rejudge.py benchmarks/results/translate-java-python-0.5b.json --small
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import generate, judge
from prochemy.optimizer.llm.gateway import (
    ChatRequest,
    ChatResult,
    GatewayError,
    LLMGateway,
    _Resolved,
    endpoint_identity,
)
from prochemy.optimizer.loop.stats import paired_difference_ci, sign_test_p
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks.translation import load_translation


class CacheOnly(LLMGateway):
    """The gateway with its cache and keys, and no endpoint behind it."""

    async def _connect(self, endpoint):  # type: ignore[no-untyped-def]
        identity, model = endpoint_identity(self.settings, endpoint)
        return _Resolved(client=None, identity=identity, model=model, url="cache", api_key_env=None)  # type: ignore[arg-type]

    async def _call_with_retries(self, r, request: ChatRequest, max_tokens: int) -> ChatResult:  # type: ignore[no-untyped-def]
        raise GatewayError("not_cached", "an answer the run never stored: this script pays for none")


async def main(run_file: Path, small: bool) -> None:
    run = json.loads(run_file.read_text())
    ids = set(run["held_out"])
    direction = "python-java" if any(i.startswith("Python-Java/") for i in ids) else "java-python"
    held = [t for t in load_translation(direction) if t.id in ids]
    settings = load_settings(overrides={"model.choice": "small" if small else None}).settings
    gateway = CacheOnly(settings)
    prompts = {"seed": run["seed_prompt"], "P*": run["best_prompt"]}
    verdicts: dict[str, list[bool]] = {}
    async with Session(settings) as session:
        judges = await session.judges()
        for name, prompt in prompts.items():
            generations = [await generate(gateway, prompt, t, serial=True) for t in held]
            judged = await asyncio.gather(
                *(judge(judges, t, g, with_plus=True) for t, g in zip(held, generations))
            )
            verdicts[name] = [j.verdict.passed for j in judged]
            print(f"{name}: {sum(verdicts[name])}/{len(held)} now", flush=True)
    stored = run["held_out_comparison"]
    print(f"stored: seed {stored['seed_passed']}, P* {stored['best_passed']} of {stored['tasks']}")
    only_best = sum(b and not s for s, b in zip(verdicts["seed"], verdicts["P*"]))
    only_seed = sum(s and not b for s, b in zip(verdicts["seed"], verdicts["P*"]))
    low, high = paired_difference_ci(only_best, only_seed, len(held))
    p = sign_test_p(only_best, only_seed)
    print(
        f"now: seed {sum(verdicts['seed'])}, P* {sum(verdicts['P*'])}; only P* {only_best}, only seed "
        f"{only_seed}; sign p = {p:.3f}; 95% interval {100 * low:+.1f} .. {100 * high:+.1f} points"
    )
    if gateway.cache is not None:  # no client to close: nothing was ever connected
        gateway.cache.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.run, args.small))
