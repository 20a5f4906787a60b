"""Prompt mutation at temperature 1.0: ask a model to rewrite a code-generation prompt.

Two recipes. "paper": the authors' meta-prompt, answer wrapped in {{...}}; fine for strong
models, but a 0.5B model answered it parseably 0 times in 6. "robust" (the default): a
system rule that the prompt must stay general, two few-shot rewrites, and an answer
constrained by a JSON schema (llama.cpp servers and OpenAI accept `response_format`).
Either way a variant is kept only if it parses, stays general (names no identifier of the
training tasks), still talks about writing code, and is new.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Literal

from pydantic import BaseModel

from ..llm.gateway import ChatRequest, LLMGateway
from .purpose import GENERATION, Purpose

Recipe = Literal["robust", "paper"]

PAPER_SYSTEM = "You are an expert prompt engineer."
PAPER_ASK = "Please help me improve the given prompt to get a more helpful and harmless response.\n"
PAPER_FORMAT = (
    "You may add any information you think will help improve the task's effectiveness during "
    "the prompt optimization process.\nIf you find certain expressions and wording in the "
    "original prompt inappropriate, you can also modify these usages.\nEnsure that the optimized "
    "prompt includes a detailed task description and clear process guidance added to the "
    "original prompt.\nWrap the optimized prompt in {{}}.\n"
)

ROBUST_SYSTEM_TEMPLATE = (
    "You improve system prompts for an assistant that {assistant}; the code is then run against "
    "hidden unit tests. The rewritten prompt is used "
    "for every task, so it must stay general: never mention a specific task, function name, "
    "example, input or output. The assistant's answer must be the code alone, so never ask it "
    "for tests, examples, usage or explanations. Keep it an instruction to the assistant, at "
    "most 120 words. "
    'Answer with JSON: {{"prompt": "<the rewritten prompt>"}}.'
)
ROBUST_REQUEST = (
    "Rewrite this prompt so that the code written with it passes the tests more often. Prompt: [{prompt}]"
)
JSON_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "rewrite",
        "strict": True,
        "schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["prompt"],
            "properties": {"prompt": {"type": "string", "minLength": 40, "maxLength": 1500}},
        },
    },
}

_CODE_WORDS = re.compile(r"\b(python|code|program|function|implement)", re.IGNORECASE)
# A prompt that asks for tests or demos in the answer makes small models emit endless asserts
# that truncate the code (7 of P*'s 17 losses in the first reduced run). Any form of the verb:
# "includes examples" slipped through as P* of the 0.5B reflect ablation and lost 12 held-out tasks.
_ASKS_EXTRAS = re.compile(
    r"\b(includ(?:e|es|ing)|adds?|adding|writes?|provid(?:e|es|ing)|giv(?:e|es|ing)|shows?|showing)\b"
    r"(?:(?!pass|satisf)[^.]){0,40}?"
    r"\b(unit tests?|test cases?|tests|"
    r"examples?|example usage|usage|explanations?|docstring tests|doctests?)\b",
    re.IGNORECASE,
)


class Variant(BaseModel):
    text: str | None  # None when rejected
    parent: str
    attempts: int
    rejected: list[str] = []  # why earlier attempts were rejected


def robust_system(purpose: Purpose = GENERATION) -> str:
    return ROBUST_SYSTEM_TEMPLATE.format(assistant=purpose.assistant)


ROBUST_SYSTEM = robust_system()  # code generation's


def mutation_messages(prompt: str, recipe: Recipe, purpose: Purpose = GENERATION) -> list[dict[str, str]]:
    if recipe == "paper":
        return [
            {"role": "system", "content": PAPER_SYSTEM},
            {"role": "user", "content": PAPER_ASK + purpose.information + prompt + PAPER_FORMAT},
        ]
    messages = [{"role": "system", "content": robust_system(purpose)}]
    for before, after in purpose.shots:
        messages.append({"role": "user", "content": ROBUST_REQUEST.format(prompt=before)})
        messages.append({"role": "assistant", "content": json.dumps({"prompt": after})})
    messages.append({"role": "user", "content": ROBUST_REQUEST.format(prompt=prompt)})
    return messages


def parse_variant(reply: str, recipe: Recipe) -> str | None:
    if recipe == "paper":
        match = re.search(r"\{\{(.*?)\}\}", reply, re.DOTALL)
        return match.group(1).strip() if match else None
    try:
        value = json.loads(reply).get("prompt")
    except (ValueError, AttributeError):
        return None
    return value.strip() if isinstance(value, str) else None


def _asks_for_extras(candidate: str) -> bool:
    """True if the prompt asks for tests/examples; "do not add example usage" is fine."""
    for match in _ASKS_EXTRAS.finditer(candidate):
        before = candidate[max(0, match.start() - 20) : match.start()].lower()
        if not re.search(r"\b(not|no|never|don't|without|avoid)\b", before):
            return True
    return False


def normalise(prompt: str) -> str:
    return " ".join(prompt.lower().split())


def rejection(candidate: str, forbidden: set[str], known: set[str]) -> str | None:
    """Why a parsed variant is unusable, or None if it is fine (a cheap generality check)."""
    if len(candidate) < 30:
        return "too short"
    if normalise(candidate) in known:
        return "duplicate"
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", candidate))
    named = sorted(w for w in words if w in forbidden)
    if named:
        return f"task-specific (names {', '.join(named[:3])})"
    if not _CODE_WORDS.search(candidate):
        return "off-topic (does not ask for code)"
    if _asks_for_extras(candidate):
        return "asks for tests or examples in the answer"
    return None


async def mutate(
    gateway: LLMGateway,
    parent: str,
    *,
    recipe: Recipe,
    sample: int,
    forbidden: Iterable[str],
    known: set[str],
    max_attempts: int = 3,
    max_tokens: int = 400,
    purpose: Purpose = GENERATION,
) -> Variant:
    """One variant of `parent`; `sample` numbers it so reruns replay the same answers."""
    return await ask_variant(
        gateway,
        parent,
        mutation_messages(parent, recipe, purpose),
        recipe=recipe,
        sample=sample,
        forbidden=forbidden,
        known=known,
        max_attempts=max_attempts,
        max_tokens=max_tokens,
        extra_check=purpose.misstates,
    )


async def ask_variant(
    gateway: LLMGateway,
    parent: str,
    messages: list[dict[str, str]],
    *,
    recipe: Recipe,
    sample: int,
    forbidden: Iterable[str],
    known: set[str],
    max_attempts: int,
    max_tokens: int,
    extra_check: Callable[[str], str | None] | None = None,
) -> Variant:
    """Ask the mutator (at temperature 1) until a usable variant comes back or the attempts
    run out; `extra_check` may reject a parsed variant for an operator's own reason."""
    forbidden_set = {f for f in forbidden if len(f) > 3}
    reasons: list[str] = []
    for attempt in range(max_attempts):
        reply = await gateway.chat(
            ChatRequest(
                role="mutation",
                messages=messages,
                temperature=1.0,
                max_tokens=max_tokens,
                sample=sample * max_attempts + attempt,
                response_format=JSON_SCHEMA if recipe == "robust" else None,
            )
        )
        candidate = parse_variant(reply.text, recipe)
        reason = "unparseable" if candidate is None else rejection(candidate, forbidden_set, known)
        if reason is None and candidate is not None and extra_check is not None:
            reason = extra_check(candidate)
        if reason is None:
            assert candidate is not None
            return Variant(text=candidate, parent=parent, attempts=attempt + 1, rejected=reasons)
        reasons.append(reason)
    return Variant(text=None, parent=parent, attempts=max_attempts, rejected=reasons)
