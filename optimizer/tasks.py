"""A code-generation task: what the model sees, and how its answer is judged."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PlusInputs(BaseModel):
    """EvalPlus-style differential testing against the reference solution."""

    base_input: list[list] = Field(default_factory=list)
    plus_input: list[list] = Field(default_factory=list)
    atol: float = 0.0


class Task(BaseModel):
    id: str
    statement: str  # shown to the model as the user message
    entry_point: str
    test: str  # code that raises AssertionError when the candidate is wrong
    reference: str | None = None  # a known-good solution (full program), when known
    origin: Literal["benchmark", "synthetic", "repository"] = "benchmark"
    plus: PlusInputs | None = None
