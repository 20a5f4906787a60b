"""Mutated training tasks for translation: the same task, its source rewritten.

A translation task's tests are in the target language, so a new task cannot be checked
unless its source still means the original one. A variant is therefore the source
rewritten by the model (other names, other loops and branches, other library calls) with
the same behaviour, and it is kept only if, in the sandbox, the rewritten source passes the
original task's tests in the *source* language (HumanEval-X's Java test for Java, HumanEval's
tests for Python) and differs from every source known. The variant is then judged like its
original (same target tests), so it trains the prompt on sources written another way.
"""

from __future__ import annotations

import random
import re

from prochemy.sandbox import Sandbox
from prochemy.sandbox.java import NoJdk

from ..aio import gather_or_cancel
from ..extraction import extract_code, extract_java
from ..harness import check_job
from ..java_harness import UnsupportedDeclaration, judged_sources
from ..llm.gateway import BudgetExhausted, ChatRequest, LLMGateway
from .datasets import load_humaneval
from .model import SynthesisReport, TranslationTask
from .translation import NAMES, humaneval_x

SYSTEM = (
    "You rewrite {language} code for a test set of translation tasks. The rewrite must behave "
    "exactly like the original on every input and keep the imports it needs, the names of its "
    "classes, methods and functions, their parameters and return types, and its comments and "
    "documentation. Change how it computes: variable names, loop and branch structure, helper "
    "expressions, library calls. Answer with the whole rewritten code in one fenced block."
)


def rewrite_messages(task: TranslationTask) -> list[dict[str, str]]:
    language = task.source_language
    return [
        {"role": "system", "content": SYSTEM.format(language=NAMES[language])},
        {"role": "user", "content": f"```{language}\n{task.source_code.strip()}\n```"},
    ]


def _normal(code: str) -> str:
    return " ".join(code.split())


def _number(task_id: str) -> int:
    return int(task_id.split("/")[1])


class SourceJudge:
    """The original task's tests in the source language, for a rewritten source."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._java: dict[int, dict] | None = None
        self._python = {_number(t.id): t for t in load_humaneval()}

    def extract(self, task: TranslationTask, reply: str) -> str:
        if task.source_language == "java":
            return extract_java(reply)
        return extract_code(reply, self._python[_number(task.id)].entry_point)

    async def failure(self, task: TranslationTask, code: str) -> str | None:
        """Why `code` is not the task's source rewritten, or None when it passes."""
        n = _number(task.id)
        if task.source_language == "python":
            result = await self.sandbox.judge(*check_job(self._python[n], code))
        else:
            self._java = self._java or humaneval_x("java")
            try:
                sources = judged_sources(self._java[n]["prompt"], self._java[n]["test"], code)
                result = await self.sandbox.run_java(sources, timeout_s=60.0)
            except (UnsupportedDeclaration, NoJdk) as e:
                return f"cannot be checked ({e})"
        return None if result.passed else f"fails the original tests ({result.outcome.value})"


def variant(task: TranslationTask, source: str, task_id: str) -> TranslationTask:
    return task.model_copy(
        update={
            "id": task_id,
            "source_code": source,
            "statement": task.statement.replace(task.source_code.strip(), source.strip(), 1),
            "origin": "synthetic",
            "examples": [],
        }
    )


async def synthesize_translations(
    gateway: LLMGateway,
    sandbox: Sandbox,
    real: list[TranslationTask],
    count: int,
    seed: int,
    max_attempts_factor: int = 3,
) -> tuple[list[TranslationTask], SynthesisReport]:
    """Up to `count` checked rewrites of the real tasks' sources, spread over the tasks."""
    rng = random.Random(seed)
    report = SynthesisReport()
    kept: list[TranslationTask] = []
    if not real or count == 0:
        return kept, report
    judge = SourceJudge(sandbox)
    known = {_normal(t.source_code) for t in real}
    order = real[:]
    rng.shuffle(order)
    attempt, limit = 0, count * max_attempts_factor
    while len(kept) < count and attempt < limit:
        batch = range(attempt, min(attempt + count - len(kept), limit))
        chosen = [order[a % len(order)] for a in batch]
        try:
            replies = await gather_or_cancel(
                *(
                    gateway.chat(
                        ChatRequest(
                            role="synthesis",
                            messages=rewrite_messages(task),
                            temperature=1.0,
                            sample=seed * 1000 + a,
                            max_tokens=900,
                        )
                    )
                    for a, task in zip(batch, chosen)
                )
            )
        except BudgetExhausted:
            report.reject("budget spent")
            break
        attempt = batch.stop
        for a, task, reply in zip(batch, chosen, replies):
            report.generated += 1
            source = judge.extract(task, reply.text)
            if not re.search(r"\S", source) or _normal(source) == _normal(task.source_code):
                reason: str | None = "unchanged"
            elif _normal(source) in known:
                reason = "near-duplicate"
            else:
                reason = await judge.failure(task, source)
            if reason is None and len(kept) < count:
                known.add(_normal(source))
                kept.append(variant(task, source, f"synthetic/{task.id.replace('/', '-')}-{a}"))
                report.kept += 1
            elif reason is not None:
                report.reject(reason.split(" (")[0])
    return kept, report
