"""Reflective mutation: rewrite a prompt after seeing what its code got wrong.

Prochemy's recipes mutate blind. This operator (the idea of GEPA, arXiv 2507.19457) shows
the mutator the parent prompt and a few of its failing training cases: the task's
statement, the answer's code, and the failing assertion or exception with its failure
class. It asks for the prompt revised with general rules that would have prevented those
failures. A variant that quotes the cases (a task's names, a test's literal values) is
rejected like any task-specific variant, so the rules generalise or are dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from pydantic import BaseModel

from ..llm.gateway import LLMGateway
from .failures import LABELS, Failure
from .mutation import Variant, ask_variant
from .purpose import GENERATION, Purpose

REFLECT_SYSTEM_TEMPLATE = (
    "You improve the system prompt of an assistant that {assistant}; its code is run against "
    "hidden unit tests. You are shown the current prompt and "
    "cases where the code written with it failed the tests. Work out what general mistakes caused "
    "the failures (misread requirements, unhandled edge cases, missing imports, wrong return types, "
    "off-by-one errors, ...) and rewrite the prompt with concise general rules that prevent them, "
    "keeping what is useful in the current prompt. The prompt is used for every task, so never "
    "mention a specific task, function name, input, output or test value. The assistant's answer "
    "must be the code alone: never ask it for tests, examples, usage or explanations. At most 150 "
    'words. Answer with JSON: {{"prompt": "<the rewritten prompt>"}}.'
)


def reflect_system(purpose: Purpose = GENERATION) -> str:
    return REFLECT_SYSTEM_TEMPLATE.format(assistant=purpose.assistant)


REFLECT_SYSTEM = reflect_system()  # code generation's

_LITERAL = re.compile(r"'[^'\n]{2,}'|\"[^\"\n]{2,}\"|\b\d{2,}\b")


class FailureCase(BaseModel):
    """One failing (prompt, task) outcome as the reflector sees it."""

    statement: str
    code: str
    failure: Failure
    detail: str
    language: str = "python"  # of the code written


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 15].rstrip() + "\n... (cut)"


def reflection_messages(
    prompt: str, cases: list[FailureCase], purpose: Purpose = GENERATION
) -> list[dict[str, str]]:
    shown = []
    for n, case in enumerate(cases, 1):
        shown.append(
            f"### Case {n}: {LABELS[case.failure]}\nTask:\n{_clip(case.statement, 700)}\n"
            f"Code written:\n```{case.language}\n{_clip(case.code, 600) or '(no code)'}\n```\n"
            f"Test result: {_clip(case.detail, 300)}"
        )
    user = f"Current prompt: [{prompt}]\n\n" + "\n\n".join(shown) + "\n\nRewrite the prompt."
    return [{"role": "system", "content": reflect_system(purpose)}, {"role": "user", "content": user}]


def quoted_values(cases: Iterable[FailureCase]) -> set[str]:
    """Literal values of the failing tests (strings, numbers of 2+ digits): a variant that
    repeats one is fitting the cases, not stating a rule."""
    return {m.group(0).strip("'\"") for c in cases for m in _LITERAL.finditer(c.detail)} - {""}


def quotes_a_case(candidate: str, values: set[str]) -> str | None:
    for value in sorted(values):
        if re.search(rf"(?<![\w.]){re.escape(value)}(?![\w])", candidate):
            return f"task-specific (quotes {json.dumps(value)})"
    return None


# Words any prompt or task statement may share without restating a task.
_COMMON_WORDS = (
    "a an the of to in on for by with and or is are be that this it its as at from into given "
    "write python function code program implement create return task which whether if"
)
_SHARED_RUN = 5  # words in a row shared with a shown statement ...
_DISTINCTIVE = 3  # ... of which this many are not common: the variant restates that task


def _words(text: str) -> list[str]:
    """Lower-case words, a plural or third-person "s" dropped ("increments" = "increment")."""
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in re.findall(r"[a-z0-9_]+", text.lower())]


_COMMON = frozenset(_words(_COMMON_WORDS))


def restates_a_case(candidate: str, cases: Iterable[FailureCase]) -> str | None:
    """A variant that repeats a shown task's own wording ("find the sum of all prime divisors
    of a given number") is that task's statement, not a rule: every one of the 0.5B
    reflector's 5 variants in its ablation run was such a restatement."""
    words = _words(candidate)
    runs = {tuple(words[i : i + _SHARED_RUN]) for i in range(len(words) - _SHARED_RUN + 1)}
    for case in cases:
        told = _words(case.statement)
        for i in range(len(told) - _SHARED_RUN + 1):
            run = tuple(told[i : i + _SHARED_RUN])
            if run in runs and sum(w not in _COMMON for w in run) >= _DISTINCTIVE:
                return f"task-specific (restates a case: {' '.join(run)!r})"
    return None


async def reflect(
    gateway: LLMGateway,
    parent: str,
    cases: list[FailureCase],
    *,
    sample: int,
    forbidden: Iterable[str],
    known: set[str],
    max_attempts: int = 3,
    max_tokens: int = 500,
    purpose: Purpose = GENERATION,
) -> Variant:
    """One reflective variant of `parent`; `sample` numbers it so reruns replay it."""
    values = quoted_values(cases)
    return await ask_variant(
        gateway,
        parent,
        reflection_messages(parent, cases, purpose),
        recipe="robust",
        sample=sample,
        forbidden=forbidden,
        known=known,
        max_attempts=max_attempts,
        max_tokens=max_tokens,
        extra_check=lambda candidate: (
            quotes_a_case(candidate, values)
            or restates_a_case(candidate, cases)
            or purpose.misstates(candidate)
        ),
    )
