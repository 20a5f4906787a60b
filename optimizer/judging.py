"""The seam between task kinds and what judges them.

A Judge turns (task, code) into a verdict; `Judges` holds one per task kind and picks by
`task.kind`, so the evaluator, the benchmark runner and the use cases never branch on the
kind themselves. A new kind (code translation) adds a task model in tasks.py and a Judge
here.
"""

from __future__ import annotations

from typing import Protocol

from prochemy.sandbox import Sandbox
from prochemy.sandbox.models import RunResult
from prochemy.sandbox.repo_runner import RepoRunner
from pydantic import BaseModel

from .harness import check_job, plus_job
from .java_harness import UnsupportedDeclaration, judged_sources
from .tasks import FunctionTask, RepoTask, Task, TranslationTask


class Verdict(BaseModel):
    result: RunResult
    plus: RunResult | None = None  # HumanEval+ inputs, when asked for and the task has them


class Judge(Protocol):
    async def judge(self, task: Task, code: str, with_plus: bool = False) -> Verdict: ...


class FunctionJudge:
    """Test code against the candidate's functions, in the split judge (sandbox/split.py)."""

    def __init__(self, sandbox: Sandbox, plus_timeout_s: float = 120.0) -> None:
        self.sandbox = sandbox
        self.plus_timeout_s = plus_timeout_s

    async def judge(self, task: Task, code: str, with_plus: bool = False) -> Verdict:
        assert isinstance(task, FunctionTask)
        result = await self.sandbox.judge(*check_job(task, code))
        plus = None
        if with_plus and task.plus is not None:
            plus = await self.sandbox.judge(*plus_job(task, code), timeout_s=self.plus_timeout_s)
        return Verdict(result=result, plus=plus)


class RepoJudge:
    """The repository's own tests, a pass confirmed with the candidate isolated."""

    def __init__(self, runner: RepoRunner) -> None:
        self.runner = runner

    async def judge(self, task: Task, code: str, with_plus: bool = False) -> Verdict:
        assert isinstance(task, RepoTask)
        target = task.repo
        return Verdict(
            result=await self.runner.run_candidate(target.module, target.qualname, target.node_ids, code)
        )


class NoJudge(RuntimeError):
    """A task of a kind this evaluation was not given a judge for."""


class TranslationJudge:
    """A translation is judged like code written in its target language: into Python, by the
    original Python task's judge (tests, helpers, HumanEval+ inputs); into Java, by the Java
    test compiled and run in the sandbox under the trusted launcher (java_harness.py)."""

    def __init__(self, function: FunctionJudge, timeout_s: float = 60.0) -> None:
        self.function = function
        self.timeout_s = timeout_s  # javac and two JVM starts, on a busy machine

    async def judge(self, task: Task, code: str, with_plus: bool = False) -> Verdict:
        assert isinstance(task, TranslationTask)
        if task.target_language == "python":
            return await self.function.judge(task.python_view(), code, with_plus)
        try:
            sources = judged_sources(task.target_stub, task.test, code)
        except UnsupportedDeclaration as e:
            raise NoJudge(f"{task.id}: {e}") from None
        return Verdict(result=await self.function.sandbox.run_java(sources, timeout_s=self.timeout_s))


class Judges:
    def __init__(self, function: Sandbox | None = None, repository: RepoRunner | None = None) -> None:
        self.by_kind: dict[str, Judge] = {}
        if function is not None:
            self.by_kind["function"] = FunctionJudge(function)
            self.by_kind["translation"] = TranslationJudge(FunctionJudge(function))
        if repository is not None:
            self.by_kind["repository"] = RepoJudge(repository)

    async def judge(self, task: Task, code: str, with_plus: bool = False) -> Verdict:
        judge = self.by_kind.get(task.kind)
        if judge is None:
            raise NoJudge(f"{task.id} is a {task.kind} task and nothing here judges that kind")
        return await judge.judge(task, code, with_plus)
