"""LLM-made training tasks, written from real examples and kept only if they hold up.

A synthetic task is kept only if, in the sandbox, its reference solution passes its own
tests, a deliberately wrong body (`return None`) fails them (the tests are not vacuous),
and it is not a near-duplicate of a task already known. The paper's public scripts skip
these checks; about a quarter of their shipped synthetic tasks are broken.
"""

from __future__ import annotations

import json
import random
import re

from prochemy.sandbox import Sandbox

from ..aio import gather_or_cancel
from ..harness import check_job
from ..llm.gateway import BudgetExhausted, ChatRequest, LLMGateway
from .model import FunctionTask, SynthesisReport

SYSTEM = (
    "You write new Python programming tasks for a test suite. Each task has a statement "
    "(what the function must do, ending with one example test), the function name, a correct "
    "reference solution, and tests: several assert statements that call the function and "
    "check exact results. The task must be different from the examples. Answer with JSON."
)
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "task",
        "strict": True,
        "schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["statement", "entry_point", "reference", "tests"],
            "properties": {
                k: {"type": "string", "minLength": 3}
                for k in ("statement", "entry_point", "reference", "tests")
            },
        },
    },
}
DUPLICATE_JACCARD = 0.6


def _example(task: FunctionTask) -> str:
    return json.dumps(
        {
            "statement": task.statement,
            "entry_point": task.entry_point,
            "reference": task.reference,
            "tests": task.test.strip(),
        }
    )


def synthesis_messages(examples: list[FunctionTask]) -> list[dict[str, str]]:
    shown = "\n\n".join(_example(t) for t in examples)
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Examples:\n\n{shown}\n\nWrite one new task in the same JSON format."},
    ]


def parse_task(reply: str, task_id: str) -> FunctionTask | None:
    try:
        raw = json.loads(reply)
    except ValueError:
        match = re.search(r"\{.*\}", reply, re.DOTALL)  # JSON inside prose or a fence
        if not match:
            return None
        try:
            raw = json.loads(match.group(0))
        except ValueError:
            return None
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), str) for k in ("statement", "entry_point", "reference", "tests")
    ):
        return None
    entry = raw["entry_point"].strip()
    if not entry.isidentifier() or "assert" not in raw["tests"]:
        return None
    return FunctionTask(
        id=task_id,
        statement=raw["statement"].strip() + "\n",
        entry_point=entry,
        test=raw["tests"].strip() + "\n",
        reference=raw["reference"].strip() + "\n",
        origin="synthetic",
    )


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def duplicate_of(task: FunctionTask, known: list[FunctionTask]) -> str | None:
    words = _words(task.statement)
    for other in known:
        if other.entry_point == task.entry_point:
            return other.id
        theirs = _words(other.statement)
        if words and theirs and len(words & theirs) / len(words | theirs) >= DUPLICATE_JACCARD:
            return other.id
    return None


async def validate(sandbox: Sandbox, task: FunctionTask, known: list[FunctionTask]) -> str | None:
    """Why the task is rejected, or None when it is kept."""
    if (dup := duplicate_of(task, known)) is not None:
        return f"near-duplicate of {dup}"
    assert task.reference is not None
    reference = await sandbox.judge(*check_job(task, task.reference))
    if not reference.passed:
        return f"reference fails its own tests ({reference.outcome.value})"
    wrong = f"def {task.entry_point}(*args, **kwargs):\n    return None\n"
    if (await sandbox.judge(*check_job(task, wrong))).passed:
        return "vacuous tests (a `return None` body passes)"
    return None


async def synthesize(
    gateway: LLMGateway,
    sandbox: Sandbox,
    real: list[FunctionTask],
    known: list[FunctionTask],
    count: int,
    seed: int,
    max_attempts_factor: int = 3,
    examples_per_prompt: int = 4,
) -> tuple[list[FunctionTask], SynthesisReport]:
    """Up to `count` validated synthetic tasks, each written from a few real examples."""
    rng = random.Random(seed)
    report = SynthesisReport()
    kept: list[FunctionTask] = []
    attempt = 0
    limit = count * max_attempts_factor
    while len(kept) < count and attempt < limit:
        # write a batch concurrently, then validate in order (dedup needs what was kept)
        batch = range(attempt, min(attempt + count - len(kept), limit))
        try:
            replies = await gather_or_cancel(
                *(
                    gateway.chat(
                        ChatRequest(
                            role="synthesis",
                            messages=synthesis_messages(
                                rng.sample(real, min(examples_per_prompt, len(real)))
                            ),
                            temperature=1.0,
                            sample=seed * 1000 + a,
                            max_tokens=700,
                            response_format=SCHEMA,
                        )
                    )
                    for a in batch
                )
            )
        except BudgetExhausted:
            report.reject("budget spent")
            break
        attempt = batch.stop
        for a, reply in zip(batch, replies):
            report.generated += 1
            task = parse_task(reply.text, f"synthetic/{seed}-{a}")
            reason = "unparseable" if task is None else await validate(sandbox, task, known + kept)
            if reason is None and len(kept) < count:
                assert task is not None
                kept.append(task)
                report.kept += 1
            elif reason is not None:  # count by kind: "near-duplicate of MBPP/7" -> "near-duplicate"
                report.reject(reason.split(" (")[0].split(" of ")[0])
    return kept, report
