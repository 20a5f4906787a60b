"""Data that crosses the sandbox boundary: limits in, typed results out."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SandboxSettings(BaseModel):
    """Isolation level and per-candidate limits (the `sandbox` section of the configuration)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # "bwrap" unless the user chooses otherwise: the weaker tier is never entered silently
    level: Literal["auto", "bwrap", "process"] = "bwrap"
    timeout_s: float = Field(10.0, gt=0, description="wall clock per candidate")
    cpu_s: int = Field(10, ge=1)
    memory_mb: int = Field(1024, ge=64)
    max_procs: int = Field(32, ge=1)
    file_size_mb: int = Field(16, ge=1)
    output_bytes: int = Field(8192, ge=256)
    tmp_mb: int = Field(256, ge=16, description="size of the candidate's /tmp (bwrap tier)")
    workers: int = Field(2, ge=1, description="warm worker processes")


class Runtime(BaseModel):
    """The interpreter a worker runs under, and what it must see (default: our own)."""

    python: str = Field(default_factory=lambda: sys.executable)
    visible: list[str] = Field(default_factory=list, description="folders kept readable")
    preload: list[str] = Field(default_factory=list, description="modules imported once per worker")
    repo_root: str | None = None  # a repository the programs run in (read-only, or copied)


Tier = Literal["bwrap", "process"]
OutcomeName = Literal["passed", "failed", "error", "timeout", "resource-limit"]
# a repository test's status in one run (the pytest driver's recorder)
TestStatusName = Literal["passed", "failed", "error", "timeout", "skipped", "xfailed", "not run"]


class RunOutcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"  # an assertion of the tests failed
    ERROR = "error"  # the program raised (or did not compile)
    TIMEOUT = "timeout"
    RESOURCE_LIMIT = "resource-limit"


class RunResult(BaseModel):
    outcome: RunOutcome
    detail: str = ""  # failing assertion, "Type: message", or which limit
    output_tail: str = ""
    duration_s: float = 0.0
    tier: Tier | Literal[""] = ""
    data: dict = Field(default_factory=dict)  # what a self-reporting program returned

    @property
    def passed(self) -> bool:
        return self.outcome is RunOutcome.PASSED
