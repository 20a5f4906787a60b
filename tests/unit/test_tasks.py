"""The task-kind union: each kind validates into its own model, JSON stored before the
kinds were split (no "kind" field) still loads, and fingerprints did not move."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from prochemy.optimizer.tasks import TASK, FunctionTask, RepoTarget, RepoTask, TaskSet, has_plus
from prochemy.optimizer.tasks.sampling import split, spread_sample
from prochemy.optimizer.tasks.translation import load_translation, translation_split

TARGET = {"root": "/r", "module": "m.py", "qualname": "f", "node_ids": ["t.py::test_f"], "tree": "x"}


def test_old_json_without_kind_loads_as_the_right_kind() -> None:
    function = TASK.validate_python(
        {"id": "a", "statement": "s", "entry_point": "f", "test": "assert 1", "repo": None}
    )
    repo = TASK.validate_python({"id": "b", "statement": "s", "entry_point": "f", "test": "", "repo": TARGET})
    assert isinstance(function, FunctionTask) and isinstance(repo, RepoTask)
    assert repo.origin == "repository" and repo.repo.qualname == "f"


def test_a_task_set_round_trips_both_kinds() -> None:
    tasks = [
        FunctionTask(id="a", statement="s", entry_point="f", test="assert f() == 1"),
        RepoTask(id="b", statement="s", entry_point="f", repo=RepoTarget(**TARGET)),
    ]
    again = TaskSet.model_validate_json(TaskSet(name="n", tasks=tasks).model_dump_json())
    assert [type(t) for t in again.tasks] == [FunctionTask, RepoTask]
    assert again.fingerprint == TaskSet(name="n", tasks=tasks).fingerprint


def test_fingerprints_are_what_they_were_before_the_split() -> None:
    """The old single Task model hashed these five fields; stored caches depend on it."""
    task = RepoTask(id="b", statement="s", entry_point="f", repo=RepoTarget(**TARGET))
    old_shape = {"statement": "s", "entry_point": "f", "test": "", "plus": None, "repo": TARGET}
    expected = hashlib.sha256(json.dumps(old_shape, sort_keys=True).encode()).hexdigest()
    assert task.fingerprint == expected


def test_a_test_lost_to_a_sandbox_limit_says_which_limit_and_what_to_change() -> None:
    from prochemy.optimizer.config import RepoTests
    from prochemy.optimizer.tasks.mining import exclusion_hint
    from prochemy.sandbox.models import SandboxSettings

    cfg, box = RepoTests(test_timeout_s=7), SandboxSettings(max_procs=32)
    assert "test.test_timeout_s (7s" in exclusion_hint("timeout", "", cfg, box)
    threads = exclusion_hint("failed", "RuntimeError: can't start new thread", cfg, box)
    assert "sandbox.max_procs (32)" in threads
    assert "read-only" in exclusion_hint("error", "OSError: [Errno 30] Read-only file system: 'x'", cfg, box)
    assert exclusion_hint("failed", "AssertionError: 1 != 2", cfg, box) == ""  # a real failure: no excuse


def _in(module: str, name: str) -> RepoTask:
    target = RepoTarget(**{**TARGET, "module": module, "qualname": name})
    return RepoTask(id=f"{module}:{name}", statement="s", entry_point=name, repo=target)


def test_a_held_out_sample_is_spread_over_modules_not_the_first_by_name() -> None:
    # 3 modules: "a.py" alone would fill a first-N-by-name sample of 6
    tasks = [_in(m, f"f{i}") for m, count in (("a.py", 8), ("b.py", 3), ("c.py", 3)) for i in range(count)]
    sample = spread_sample(tasks, 6, seed=0)
    assert len(sample) == 6 and len({t.id for t in sample}) == 6
    per_module = Counter(t.repo.module for t in sample)
    assert per_module == {"a.py": 2, "b.py": 2, "c.py": 2}
    assert sample == [t for t in tasks if t in sample]  # the given order is kept
    assert spread_sample(tasks, 6, seed=0) == sample  # reproducible
    assert spread_sample(tasks, 6, seed=1) != sample  # and a draw, not a rule
    assert spread_sample(tasks, None, seed=0) == tasks and spread_sample(tasks, 99, seed=0) == tasks


def test_split_keeps_training_and_held_out_apart() -> None:
    tasks = [_in("a.py", f"f{i}") for i in range(10)]
    train, held = split(tasks, 0.5, k_real=3, seed=0)
    assert len(train) == 3 and len(held) == 5 and not {t.id for t in train} & {t.id for t in held}


def test_java_to_python_tasks_show_java_and_are_judged_as_humaneval_plus() -> None:
    tasks = load_translation("java-python")
    assert len(tasks) == 164
    first = tasks[0]
    assert "public boolean hasCloseElements" in first.statement and "```java" in first.statement
    assert "def has_close_elements(numbers: List[float], threshold: float) -> bool" in first.statement
    assert "has_close_elements" not in first.source_code  # the Java names, not the Python ones
    view = first.python_view()
    assert view.test.rstrip().endswith("check(has_close_elements)") and view.plus is not None
    assert has_plus(first) and TASK.validate_json(first.model_dump_json()) == first
    pool, held = translation_split(tasks)
    assert (len(pool), len(held)) == (40, 124) and not {t.id for t in pool} & {t.id for t in held}
    assert translation_split(list(reversed(tasks))) == (pool, held)  # fixed, whatever the order


async def test_a_java_to_python_answer_gets_the_imports_its_signature_needs() -> None:
    """The statement asks for `def has_close_elements(numbers: List[float], ...)`; an answer that
    writes exactly that without `from typing import List` is completed as in generation, not
    failed with a NameError (a third of the 0.5B's held-out failures were such names)."""
    from prochemy.optimizer.config import Settings
    from prochemy.optimizer.generation import generate
    from prochemy.optimizer.llm.gateway import ChatRequest, ChatResult

    answer = (
        "```python\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1 :])\n```"
    )

    class Gateway:
        settings = Settings()

        async def chat(self, request: ChatRequest) -> ChatResult:
            return ChatResult(text=answer, prompt_tokens=1, completion_tokens=3, model="m")

    java_python = load_translation("java-python")[0]
    python_java = load_translation("python-java")[0]
    code = (await generate(Gateway(), "Translate.", java_python)).code  # type: ignore[arg-type]
    assert code.startswith("from typing import List\n")
    namespace: dict = {}
    exec(compile(code, "<answer>", "exec"), namespace)  # the signature's names now resolve
    assert namespace["has_close_elements"]([1.0, 1.05], 0.1) is True
    assert "from typing" not in (await generate(Gateway(), "Translate.", python_java)).code  # type: ignore[arg-type]
