"""Generate code for a task with a system prompt at temperature 0, and judge it."""

from __future__ import annotations

import ast

from prochemy.sandbox.models import RunResult
from prochemy.sandbox.pyparse import parse_python
from pydantic import BaseModel

from .extraction import extract_code, extract_java
from .judging import Judges
from .llm.gateway import ChatRequest, LLMGateway
from .prompts import PromptSpec
from .tasks import FunctionTask, Task, TranslationTask

# The paper's seed prompt S(0), verbatim.
SEED_PROMPT = (
    "You are a code generation assistant. Your task is to generate Python code based on the "
    "given task description and complete the work described in the task."
)


class Generation(BaseModel):
    task_id: str
    answer: str
    code: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    finish_reason: str = ""  # "length": cut at max_tokens


class Judged(BaseModel):
    generation: Generation
    result: RunResult
    plus: RunResult | None = None

    @property
    def verdict(self) -> RunResult:
        """The verdict that decides: the plus inputs only matter once the base tests pass."""
        return self.plus if self.result.passed and self.plus is not None else self.result


def _stub_prefill(task: Task) -> str:
    """The answer's opening when the statement is a stub to complete (HumanEval's signature
    and docstring): the model then writes the body only. Prose statements (MBPP, a
    repository's) and the plan style get none."""
    if not isinstance(task, FunctionTask) or not task.entry_point:
        return ""
    try:
        module = parse_python(task.statement)
    except SyntaxError:
        return ""
    last = module.body[-1] if module.body else None
    if not isinstance(last, (ast.FunctionDef, ast.AsyncFunctionDef)) or last.name != task.entry_point:
        return ""
    return f"```python\n{task.statement.rstrip()}\n"


def messages_for(system_prompt: str | PromptSpec, task: Task) -> list[dict[str, str]]:
    """The system prompt (its instruction and style), then as many of the task's worked
    examples as the prompt asks for, as earlier turns of the conversation, then the task."""
    spec = system_prompt if isinstance(system_prompt, PromptSpec) else PromptSpec.parse(system_prompt)
    messages = [{"role": "system", "content": spec.system_message()}]
    fence = task.answer_language  # examples are of the task's own kind
    for example in task.examples[: spec.examples]:
        messages.append({"role": "user", "content": example.statement})
        messages.append({"role": "assistant", "content": f"```{fence}\n{example.code.strip()}\n```"})
    return messages + [{"role": "user", "content": task.statement}]


async def generate(
    gateway: LLMGateway,
    system_prompt: str,
    task: Task,
    serial: bool = False,
    *,
    temperature: float = 0.0,
    sample: int = 0,
    follow_up: list[dict[str, str]] | None = None,
    reference: bool = False,
) -> Generation:
    """One answer: greedy by default; at a temperature, sample number `sample` (also its
    seed, so a sample repeats where the endpoint honours seeds); `follow_up` continues the
    conversation (a failing candidate and its test, for repair). `reference`: as the paper's
    loop asks, paid afresh and uncut (to the model's own end or max_tokens)."""
    spec = PromptSpec.parse(system_prompt)
    prefill = (
        _stub_prefill(task)
        if gateway.settings.prefill_code != "off" and spec.style == "direct" and not reference
        else ""
    )
    reply = await gateway.chat(
        ChatRequest(
            role="task",
            messages=messages_for(spec, task) + (follow_up or []),
            temperature=temperature,
            sample=sample,
            seed=sample if temperature > 0 else None,
            serial=serial,
            stop_at_code=gateway.settings.stop_at_code and not reference and task.answer_language != "java",
            entry_point=task.entry_point,
            fresh=reference,
            prefill=prefill,
        )
    )
    stub = answer_stub(task)
    return Generation(
        task_id=task.id,
        answer=reply.text,
        code=extract_java(reply.text)
        if task.answer_language == "java"
        else extract_code(reply.text, task.entry_point, stub),
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        cached=reply.cached,
        finish_reason=reply.finish_reason or "",
    )


def answer_stub(task: Task) -> str:
    """The Python stub an answer completes, whose imports extraction puts back when the
    answer leaves them out: a function task's statement, a Java -> Python translation's
    target stub (its signature says `List[int]`, so `from typing import List` is the task's,
    as in generation). A repository statement is prose around the module's context, not a
    stub to complete."""
    if isinstance(task, FunctionTask):
        return task.statement
    if isinstance(task, TranslationTask) and task.target_language == "python":
        return task.target_stub
    return ""


async def judge(judges: Judges, task: Task, generation: Generation, with_plus: bool = False) -> Judged:
    verdict = await judges.judge(task, generation.code, with_plus)
    return Judged(generation=generation, result=verdict.result, plus=verdict.plus)
