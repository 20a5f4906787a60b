"""Pass@1 of one system prompt over a task list at temperature 0, with its cost."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from prochemy.sandbox.models import OutcomeName
from pydantic import BaseModel

from .generation import Judged, generate, judge
from .judging import Judges
from .llm.gateway import LLMGateway
from .loop.failures import Failure, failure_of, profile
from .tasks import Task


class BenchTaskResult(BaseModel):
    task_id: str
    outcome: OutcomeName
    detail: str
    plus_outcome: OutcomeName | None = None
    plus_detail: str | None = None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    failure: Failure | None = None  # of the deciding verdict (plus inputs once the base passes)


class BenchReport(BaseModel):
    name: str
    benchmark: str
    model: str
    endpoint: str
    prompt: str
    prompt_sha256: str
    sandbox_tier: str
    started: str
    tasks: int
    passed: int
    pass_at_1: float
    plus_passed: int | None = None
    plus_pass_at_1: float | None = None
    prompt_tokens: int
    completion_tokens: int
    completion_tokens_per_task: float
    llm_calls: int
    cache_hits: int
    wall_s: float
    failures: dict[str, int] = {}  # failure class -> tasks (see loop/failures.py)
    results: list[BenchTaskResult]


async def run_bench(
    gateway: LLMGateway,
    judges: Judges,
    tasks: Sequence[Task],
    prompt: str,
    name: str,
    benchmark: str,
    plus: bool = False,
    on_done: Callable[[Judged], None] | None = None,
) -> BenchReport:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    calls_before = gateway.total_usage()
    t0 = time.monotonic()

    async def one(task: Task) -> Judged:
        judged = await judge(judges, task, await generate(gateway, prompt, task), with_plus=plus)
        if on_done:
            on_done(judged)
        return judged

    judged = await asyncio.gather(*(one(t) for t in tasks))
    wall = time.monotonic() - t0
    usage = gateway.total_usage()
    results = [
        BenchTaskResult(
            task_id=j.generation.task_id,
            outcome=j.result.outcome.value,
            detail=j.result.detail,
            plus_outcome=j.plus.outcome.value if j.plus else None,
            plus_detail=j.plus.detail if j.plus else None,
            prompt_tokens=j.generation.prompt_tokens,
            completion_tokens=j.generation.completion_tokens,
            cached=j.generation.cached,
            failure=failure_of(j, task.entry_point),
        )
        for task, j in zip(tasks, judged, strict=True)
    ]
    passed = sum(r.outcome == "passed" for r in results)
    # EvalPlus: "plus" counts only if the base tests pass too
    plus_passed = sum(r.outcome == "passed" and r.plus_outcome == "passed" for r in results) if plus else None
    endpoint = await gateway.describe("task")
    n = max(len(results), 1)
    return BenchReport(
        name=name,
        benchmark=benchmark,
        model=endpoint["model"],
        endpoint=endpoint["identity"],
        prompt=prompt,
        prompt_sha256=hashlib.sha256(prompt.encode()).hexdigest(),
        sandbox_tier=judged[0].result.tier if judged else "none",
        started=started,
        tasks=len(results),
        passed=passed,
        pass_at_1=round(passed / n, 4),
        plus_passed=plus_passed,
        plus_pass_at_1=round(plus_passed / n, 4) if plus_passed is not None else None,
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        completion_tokens_per_task=round(sum(r.completion_tokens for r in results) / n, 1),
        llm_calls=usage.calls - calls_before.calls,
        cache_hits=usage.cache_hits - calls_before.cache_hits,
        wall_s=round(wall, 1),
        failures=profile(r.failure for r in results),
        results=results,
    )
