"""A code-generation task: what the model sees, and how its answer is judged."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, TypeAdapter


class PlusInputs(BaseModel):
    """EvalPlus-style differential testing against the reference solution."""

    base_input: list[list] = Field(default_factory=list)
    plus_input: list[list] = Field(default_factory=list)
    atol: float = 0.0


class RepoTarget(BaseModel):
    """Where a repository task lives and which of the repo's tests judge it."""

    root: str  # the project root, absolute
    module: str  # file relative to the root
    qualname: str  # "func" or "Class.method"
    node_ids: list[str]  # pytest node ids that fail without the function
    tree: str  # fingerprint of the tests and sources it was mined from


class Example(BaseModel):
    """A worked example a prompt may show before a task: a statement and verified code."""

    source: str  # the task or function it comes from
    statement: str
    code: str


Language = Literal["java", "python"]


class _TaskBase(BaseModel):
    id: str
    statement: str  # shown to the model as the user message
    entry_point: str
    reference: str | None = None  # a known-good solution, when known
    origin: Literal["benchmark", "synthetic", "repository"] = "benchmark"
    # the examples most similar to this task, best first (tasks/examples.py); a prompt
    # says how many to show (prompts.PromptSpec.examples)
    examples: list[Example] = Field(default_factory=list)

    @property
    def answer_language(self) -> Language:
        """The language the answer is written in."""
        return "python"

    @property
    def fingerprint(self) -> str:
        """Stable across runs: what the model sees and how it is judged (the same shape for
        every kind, so fingerprints stored before the kinds were split still match)."""
        shape = {
            "statement": self.statement,
            "entry_point": self.entry_point,
            "test": "",
            "plus": None,
            "repo": None,
        }
        shape.update(self.model_dump(include={"test", "plus", "repo"}))
        # (not the examples: an outcome depends only on those its prompt shows, which the
        # outcome store's key adds; a prompt that shows none keeps every stored outcome)
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


class FunctionTask(_TaskBase):
    """A function written from its statement, judged by test code against the candidate's
    functions in the split judge (HumanEval, MBPP, synthetic tasks)."""

    kind: Literal["function"] = "function"
    test: str  # code that raises AssertionError when the candidate is wrong
    plus: PlusInputs | None = None


class RepoTask(_TaskBase):
    """A function of a repository, judged by the repository's own tests with the candidate
    spliced into its module."""

    kind: Literal["repository"] = "repository"
    origin: Literal["benchmark", "synthetic", "repository"] = "repository"
    repo: RepoTarget


class TranslationTask(_TaskBase):
    """Code in one language rewritten in another, judged by tests in the target language
    (Python: HumanEval's tests and HumanEval+'s inputs; Java: HumanEval-X's Main)."""

    kind: Literal["translation"] = "translation"
    origin: Literal["benchmark", "synthetic", "repository"] = "benchmark"
    source_language: Language
    target_language: Language
    source_code: str
    test: str  # in the target language
    plus: PlusInputs | None = None  # Python target: differential inputs against `reference`
    # Python target: the function's stub (signature, docstring, helpers the tests use);
    # Java target: the declaration the answer completes
    target_stub: str = ""

    @property
    def answer_language(self) -> Language:
        return self.target_language

    def python_view(self) -> FunctionTask:
        """The same judgement as the original Python task (its helpers, tests, inputs)."""
        assert self.target_language == "python"
        return FunctionTask(
            id=self.id,
            statement=self.target_stub,
            entry_point=self.entry_point,
            test=self.test,
            plus=self.plus,
            reference=self.reference,
        )


def _kind(value: object) -> str | None:
    if isinstance(value, dict):  # stored before the kinds were split: no "kind" field
        return value.get("kind") or ("repository" if value.get("repo") else "function")
    return getattr(value, "kind", None)


Task = Annotated[
    Annotated[FunctionTask, Tag("function")]
    | Annotated[RepoTask, Tag("repository")]
    | Annotated[TranslationTask, Tag("translation")],
    Discriminator(_kind),
]
TASK = TypeAdapter(Task)  # Task.model_validate_json's stand-in: TASK.validate_json(text)


def has_plus(task: Task) -> bool:
    """The task can also be judged on HumanEval+'s differential inputs."""
    return isinstance(task, FunctionTask | TranslationTask) and task.plus is not None


class TaskSet(BaseModel):
    name: str
    tasks: list[Task]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256("".join(t.fingerprint for t in self.tasks).encode()).hexdigest()

    @property
    def identifiers(self) -> set[str]:
        """Names a general prompt should not mention (entry points of the tasks)."""
        return {t.entry_point for t in self.tasks}


class SynthesisReport(BaseModel):
    """How many synthetic tasks were written, kept, and rejected by reason (any task kind)."""

    generated: int = 0
    kept: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


class ScreenReport(BaseModel):
    """How the real training tasks were chosen from more candidates by the seed's verdicts:
    tasks it fails (where a prompt can gain) and tasks it passes (where one can lose)."""

    candidates: int
    seed_failed: int
    chosen_failing: int
    chosen_passing: int


class TaskSuite(BaseModel):
    """What one refinement works on: training tasks (real + synthetic), held-out tasks
    the loop never sees, how the synthetic half was made and the real half chosen."""

    train: TaskSet
    held_out: TaskSet
    synthesis: SynthesisReport = SynthesisReport()
    screening: ScreenReport | None = None
