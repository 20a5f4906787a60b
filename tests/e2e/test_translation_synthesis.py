"""Mutated translation tasks (the paper's synthetic half for translation): a rewritten
source is kept only when it still passes the original task's tests in its own language
(Java in the sandbox's JVM, Python in the split judge) and is new."""

from __future__ import annotations

import itertools
from pathlib import Path

from prochemy.optimizer.config import Endpoint, Settings
from prochemy.optimizer.llm.gateway import LLMGateway
from prochemy.optimizer.tasks.translation import load_translation
from prochemy.optimizer.tasks.translation_synthesis import SYSTEM, synthesize_translations
from prochemy.sandbox import Sandbox
from prochemy.sandbox.models import SandboxSettings

from ..stub_llm import StubLLM

JAVA_TO_PYTHON = {t.id: t for t in load_translation("java-python")}
PYTHON_TO_JAVA = {t.id: t for t in load_translation("python-java")}


async def _synthesize(tmp_path: Path, real: list, replies: list[str], count: int):
    answers = itertools.cycle(replies)
    asked: list[str] = []

    def respond(messages: list[dict]) -> str:
        asked.append(messages[0]["content"])
        return next(answers)

    stub = StubLLM(responder=respond).start()
    gateway = LLMGateway(
        Settings(endpoint=Endpoint(base_url=stub.url, model="stub-model"), cache_dir=tmp_path, retries=0)
    )
    try:
        async with Sandbox(SandboxSettings(timeout_s=30)) as sandbox:
            kept, report = await synthesize_translations(gateway, sandbox, real, count=count, seed=1)
    finally:
        await gateway.aclose()
        stub.stop()
    return kept, report, asked


async def test_a_java_source_rewrite_is_kept_only_if_it_passes_the_java_tests(tmp_path: Path) -> None:
    task = JAVA_TO_PYTHON["Java-Python/2"]  # truncate_number: the decimal part of a double
    right = task.source_code.replace(
        "return number % 1.0;", "double whole = Math.floor(number);\n        return number - whole;"
    )
    assert right != task.source_code
    wrong = task.source_code.replace("return number % 1.0;", "return number;")
    replies = [f"```java\n{right}\n```", f"```java\n{task.source_code}\n```", f"```java\n{wrong}\n```"]
    kept, report, asked = await _synthesize(tmp_path, [task], replies, count=1)
    assert asked[0] == SYSTEM.format(language="Java")
    assert [k.source_code.strip() for k in kept] == [right.strip()]
    variant = kept[0]
    assert variant.origin == "synthetic" and variant.id.startswith("synthetic/Java-Python-2-")
    # the variant asks for the rewritten source and is judged by the original's Python tests
    assert right.strip() in variant.statement and task.source_code.strip() not in variant.statement
    assert (variant.test, variant.entry_point, variant.plus) == (task.test, task.entry_point, task.plus)
    assert report.generated == 1 and report.kept == 1


async def test_rewrites_that_change_nothing_or_fail_their_tests_are_rejected(tmp_path: Path) -> None:
    task = JAVA_TO_PYTHON["Java-Python/2"]
    wrong = task.source_code.replace("return number % 1.0;", "return number;")
    unchanged = f"```java\n{task.source_code}\n```"
    kept, report, _ = await _synthesize(tmp_path, [task], [unchanged, f"```java\n{wrong}\n```"], count=2)
    assert kept == []
    assert report.generated == 6  # count x 3 attempts
    assert report.rejected == {"unchanged": 3, "fails the original tests": 3}


async def test_a_python_source_rewrite_is_checked_by_humaneval_tests(tmp_path: Path) -> None:
    task = PYTHON_TO_JAVA["Python-Java/2"]
    right = task.source_code.replace("return number % 1.0", "return number - int(number)")
    wrong = task.source_code.replace("return number % 1.0", "return number")
    assert right != task.source_code != wrong
    replies = [f"```python\n{wrong}\n```", f"```python\n{right}\n```", f"```python\n{right}\n```"]
    kept, report, asked = await _synthesize(tmp_path, [task], replies, count=2)
    assert asked[0] == SYSTEM.format(language="Python")
    assert [k.source_code.strip() for k in kept] == [right.strip()]
    assert kept[0].test == task.test and kept[0].target_language == "java"
    # 6 attempts (count x 3) cycling wrong, right, right: one kept, the same rewrite again is no news
    assert report.generated == 6 and report.rejected == {"fails the original tests": 2, "near-duplicate": 3}
