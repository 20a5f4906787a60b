"""Test-guided generation: the greedy answer first; if the tests fail it, further candidates
(greedy answers under alternate prompts, then sampled, or repaired with the failing test
shown) until one passes or the budget is spent.

One strategy for every caller: the CLI and the language server check candidates against a
function's related tests (all of them: the user's tests are the spec); the benchmark checks
them against visible tests and judges the chosen one on hidden tests.
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from prochemy.sandbox.models import RunOutcome, RunResult
from prochemy.sandbox.pyparse import parse_python
from pydantic import BaseModel

from .config import GuidedGeneration
from .generation import Generation, generate
from .llm.gateway import LLMGateway
from .tasks import Task

Check = Callable[[str], Awaitable[RunResult]]  # code -> the tests' verdict

# which failing candidate to offer when none passes: a failed assertion is closer to right
# than code that raises, which is closer than code that hangs or never ran
RANK = {
    RunOutcome.PASSED: 0,
    RunOutcome.FAILED: 1,
    RunOutcome.ERROR: 2,
    RunOutcome.TIMEOUT: 3,
    RunOutcome.RESOURCE_LIMIT: 3,
}


class Attempt(BaseModel):
    number: int  # 1-based
    how: Literal["greedy", "alternate", "sample", "repair"]
    generation: Generation
    result: RunResult
    repeat_of: int | None = None  # the same code as this earlier attempt: not run again

    @property
    def passed(self) -> bool:
        return self.result.passed


class Guided(BaseModel):
    attempts: list[Attempt]
    chosen: int  # index into attempts
    stop: str  # why no further candidate was drawn
    # every generated token, those of a wave's candidates left unchecked after a pass too
    completion_tokens: int

    @property
    def best(self) -> Attempt:
        return self.attempts[self.chosen]

    @property
    def passed(self) -> bool:
        return self.best.passed


def same_code(code: str) -> str:
    """A key under which formatting-only differences repeat."""
    try:
        return ast.dump(parse_python(code))
    except SyntaxError:
        return code.strip()


# A repair request must be a function of the code and the tests only, or the same failure
# asks anew each run and a resumed benchmark cannot replay its cached answers. What differs
# between two runs of one failing candidate: pytest's "1 failed in 0.51s" (and "(0:01:02)"
# when long), a default repr's object address, the sandbox's per-job directory (worker.py).
_UNSTEADY = (
    (re.compile(r" in \d+(?:\.\d+)?s(?: \(\d+:\d\d:\d\d\))?"), ""),
    (re.compile(r" at 0x[0-9a-fA-F]+>"), " at 0x...>"),
    (re.compile(r"/[^\s'\"]*?/prochemy-sbx-\d+-[^/\s'\"]+/[^/\s'\"]+"), "<sandbox>"),
)


def steady_output(text: str) -> str:
    """Test output without what changes from run to run, so one failure asks one repair."""
    for pattern, stand_in in _UNSTEADY:
        text = pattern.sub(stand_in, text)
    return text


def repair_turns(failing: Attempt, show_code: bool = True) -> list[dict[str, str]]:
    """The failing answer and what its tests said, as a continued conversation; without
    `show_code` only what the tests said, so the model has no code to copy."""
    what = failing.result.detail or failing.result.outcome.value
    tail = steady_output(failing.result.output_tail.strip()[-1500:])
    said = f"{failing.result.outcome.value}: {what}\n" + (f"Test output:\n{tail}\n" if tail else "")
    if not show_code:
        return [
            {
                "role": "user",
                "content": f"An earlier answer did not pass the tests: {said}"
                "Write code that passes them, in one ```python block.",
            }
        ]
    return [
        {"role": "assistant", "content": failing.generation.answer},
        {
            "role": "user",
            "content": f"This code does not pass the tests: {said}"
            "Find the mistake and answer with the whole corrected code in one ```python block.",
        },
    ]


async def guided_generate(
    gateway: LLMGateway,
    prompt: str,
    task: Task,
    check: Check,
    plan: GuidedGeneration,
    *,
    serial: bool = False,
    alternates: Sequence[str] = (),
    on_attempt: Callable[[Attempt], None] | None = None,
) -> Guided:
    """Candidates for `task` until one passes `check`: attempt 1 greedy (so a function that
    passes costs nothing more), then up to `plan.candidates - 1` more, generated `parallel`
    at a time and checked in their order (the first pass in that order wins, whatever the
    timing), with identical code not run twice. The first further candidates are greedy
    answers under `alternates` (other prompts, e.g. a refinement's runners-up: repeatable,
    unlike samples); samples or repairs follow."""
    attempts: list[Attempt] = []
    seen: dict[str, int] = {}
    repeats = 0

    async def record(number: int, how: str, generation: Generation) -> Attempt:
        nonlocal repeats
        key = same_code(generation.code)
        if key in seen:
            earlier = attempts[seen[key]]
            attempt = Attempt(
                number=number, how=how, generation=generation, result=earlier.result, repeat_of=earlier.number
            )
            # alternates often agree with each other; only repeated samples mean sampling is spent
            repeats += how != "alternate"
        else:
            attempt = Attempt(
                number=number, how=how, generation=generation, result=await check(generation.code)
            )
            seen[key] = len(attempts)
            repeats = 0
        attempts.append(attempt)
        if on_attempt is not None:
            on_attempt(attempt)
        return attempt

    greedy = await generate(gateway, prompt, task, serial=serial)
    spent = greedy.completion_tokens
    first = await record(1, "greedy", greedy)
    stop = "passed" if first.passed else "no further candidates (generate.candidates = 1)"
    # greedy repair is a chain (each candidate repairs the one before), so one at a time
    greedy_repair = plan.temperature == 0 and plan.feedback
    parallel = 1 if greedy_repair else max(1, plan.parallel or gateway.settings.concurrency)
    number = 1
    while not attempts[-1].passed and number < plan.candidates:
        if spent >= plan.max_tokens:
            stop = f"token budget of {plan.max_tokens} spent"
            break
        if repeats >= plan.max_repeats:
            stop = f"{repeats} candidates in a row repeated earlier code"
            break
        if plan.temperature == 0 and number - 1 >= len(alternates):
            # a greedy answer to the same conversation is the same answer
            if not plan.feedback:
                stop = "temperature 0 without feedback: a further candidate would repeat the first"
                break
            if attempts[-1].how == "repair" and attempts[-1].repeat_of is not None:
                stop = f"greedy repair repeated candidate {attempts[-1].repeat_of}: so would the next"
                break
        follow_up = None
        if plan.feedback:
            follow_up = repair_turns(attempts[-1] if greedy_repair else _best(attempts), plan.feedback_code)
        wave = list(range(number + 1, min(plan.candidates, number + parallel) + 1))

        def candidate(n: int, follow_up: list[dict[str, str]] | None) -> Awaitable[Generation]:
            if n - 2 < len(alternates):
                return generate(gateway, alternates[n - 2], task)
            # sample numbers start at 1 after the alternates, so they are the same samples
            # (and cached answers) with or without alternates
            return generate(
                gateway,
                prompt,
                task,
                temperature=plan.temperature,
                sample=n - 1 - len(alternates),
                follow_up=follow_up,
            )

        generations = await asyncio.gather(*(candidate(n, follow_up) for n in wave))
        spent += sum(g.completion_tokens for g in generations)
        for n, generation in zip(wave, generations):
            number = n
            how: Literal["alternate", "sample", "repair"] = (
                "alternate" if n - 2 < len(alternates) else "repair" if plan.feedback else "sample"
            )
            if (await record(n, how, generation)).passed:
                break
        stop = "passed" if attempts[-1].passed else f"{number} candidates, none passed"
    chosen = attempts.index(_best(attempts))
    return Guided(attempts=attempts, chosen=chosen, stop=stop, completion_tokens=spent)


def _best(attempts: list[Attempt]) -> Attempt:
    """The first passing attempt, else the first of the least bad failures."""
    return min(attempts, key=lambda a: (RANK.get(a.result.outcome, 4), a.number))


def describe_attempt(attempt: Attempt, most: int) -> str:
    """One line per candidate for a progress report: "candidate 3/8 (sample): failed: ..."."""
    head = f"candidate {attempt.number}/{most} ({attempt.how})"
    if attempt.repeat_of is not None:
        return f"{head}: the same code as candidate {attempt.repeat_of}"
    if attempt.passed:
        return f"{head}: tests passed"
    detail = " ".join(attempt.result.detail.split())[:160]
    return f"{head}: {attempt.result.outcome.value}" + (f": {detail}" if detail else "")
