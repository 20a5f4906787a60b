"""A code-generation task: what the model sees, and how its answer is judged."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field


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


class Task(BaseModel):
    id: str
    statement: str  # shown to the model as the user message
    entry_point: str
    test: str  # code that raises AssertionError when the candidate is wrong
    reference: str | None = None  # a known-good solution (full program), when known
    origin: Literal["benchmark", "synthetic", "repository"] = "benchmark"
    plus: PlusInputs | None = None
    repo: RepoTarget | None = None  # set for origin "repository": judged by the repo's tests

    @property
    def fingerprint(self) -> str:
        """Stable across runs: what the model sees and how it is judged."""
        shape = self.model_dump(include={"statement", "entry_point", "test", "plus", "repo"})
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


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
