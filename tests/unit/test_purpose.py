"""The mutator and reflector are told the job of the prompt they rewrite: generation, or a
translation in its direction."""

from __future__ import annotations

import asyncio
import json

from prochemy.optimizer.llm.gateway import ChatRequest, ChatResult
from prochemy.optimizer.loop.mutation import ROBUST_SYSTEM, mutate, mutation_messages
from prochemy.optimizer.loop.purpose import GENERATION, purpose_of, translation
from prochemy.optimizer.loop.reflection import REFLECT_SYSTEM, FailureCase, reflection_messages
from prochemy.optimizer.tasks import FunctionTask
from prochemy.optimizer.tasks.translation import load_translation

# what the 1.5B mutator wrote for Java -> Python when it was told the generation job; the loop
# adopted it as P*
REVERSED = (
    "You are a translator who can take a piece of Python code and translate it into another "
    "programming language, ensuring that the functionality, inputs, and outputs remain the same "
    "as in the original Python code. Provide the translated code in one ```python block."
)


def test_the_job_comes_from_the_training_tasks() -> None:
    java_python, python_java = load_translation("java-python")[:3], load_translation("python-java")[:3]
    function = FunctionTask(id="T/0", statement="def f(): ...", entry_point="f", test="")
    assert purpose_of(java_python).assistant == "translates Java code into Python"
    assert purpose_of(python_java).assistant == "translates Python code into Java"
    assert purpose_of([function]) == GENERATION
    assert purpose_of([*java_python, *python_java]) == GENERATION  # no single direction
    assert purpose_of([*java_python, function]) == GENERATION


def test_generation_messages_are_the_recipes_as_before() -> None:
    robust = mutation_messages("P", "robust")
    assert robust[0]["content"] == ROBUST_SYSTEM
    assert "an assistant that writes Python functions from task descriptions; the code" in ROBUST_SYSTEM
    assert ROBUST_SYSTEM.endswith('Answer with JSON: {"prompt": "<the rewritten prompt>"}.')
    assert (
        "generate a Python program based on natural language descriptions"
        in mutation_messages("P", "paper")[1]["content"]
    )
    assert REFLECT_SYSTEM.startswith(
        "You improve the system prompt of an assistant that writes Python functions"
    )


def test_translation_messages_name_the_direction_and_show_translation_rewrites() -> None:
    purpose = translation("java", "python")
    robust = mutation_messages("Translate.", "robust", purpose)
    text = json.dumps(robust)
    assert "an assistant that translates Java code into Python" in robust[0]["content"]
    assert "Python functions from task descriptions" not in text
    shots = [json.loads(m["content"])["prompt"] for m in robust if m["role"] == "assistant"]
    assert len(shots) == 2 and all("Java" in s and "```python" in s for s in shots)
    paper = mutation_messages("Translate.", "paper", translation("python", "java"))[1]["content"]
    assert "translate Python programs into Java" in paper and "natural language" not in paper
    case = FailureCase(statement="s", code="x", failure="wrong-value", detail="d")
    assert (
        "translates Python code into Java"
        in reflection_messages("T.", [case], translation("python", "java"))[0]["content"]
    )


def test_a_variant_that_reverses_the_direction_is_rejected() -> None:
    java_python = translation("java", "python")
    assert java_python.misstates(REVERSED) == "wrong direction (treats Python as the source)"
    assert java_python.misstates("Translate from Python to Java.") is not None
    assert translation("python", "java").misstates("Convert the Java program to Python.") is not None
    for fine in (
        "Translate the given Java code into Python.",
        "Put the translated Python code into one ```python block.",
        "Write Python code from the Java program, porting it into idiomatic Python.",
        *(after for _, after in java_python.shots),
    ):
        assert java_python.misstates(fine) is None, fine
    assert GENERATION.misstates(REVERSED) is None  # generation has no direction to reverse


class Mutator:
    """Answers the reversed prompt first, then a right one."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        prompt = (
            REVERSED
            if len(self.requests) == 1
            else "Translate the Java code into Python, keeping its behaviour."
        )
        return ChatResult(
            text=json.dumps({"prompt": prompt}), prompt_tokens=5, completion_tokens=5, model="m"
        )


def test_mutation_asks_again_when_a_variant_reverses_the_direction() -> None:
    mutator = Mutator()
    variant = asyncio.run(
        mutate(
            mutator,  # type: ignore[arg-type]
            "Translate.",
            recipe="robust",
            sample=0,
            forbidden=set(),
            known=set(),
            purpose=translation("java", "python"),
        )
    )
    assert variant.text == "Translate the Java code into Python, keeping its behaviour."
    assert variant.rejected == ["wrong direction (treats Python as the source)"]
    assert len(mutator.requests) == 2
