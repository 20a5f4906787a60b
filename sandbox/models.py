"""Data that crosses the sandbox boundary: limits in, typed results out."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SandboxSettings(BaseModel):
    """Isolation level and per-candidate limits (the `sandbox` section of the configuration)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    level: Literal["auto", "bwrap", "process"] = "auto"
    timeout_s: float = Field(10.0, gt=0, description="wall clock per candidate")
    cpu_s: int = Field(10, ge=1)
    memory_mb: int = Field(1024, ge=64)
    max_procs: int = Field(32, ge=1)
    file_size_mb: int = Field(16, ge=1)
    output_bytes: int = Field(8192, ge=256)
    workers: int = Field(2, ge=1, description="warm worker processes")


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"  # an assertion of the tests failed
    ERROR = "error"  # the program raised (or did not compile)
    TIMEOUT = "timeout"
    RESOURCE_LIMIT = "resource-limit"


class RunResult(BaseModel):
    outcome: Outcome
    detail: str = ""  # failing assertion, "Type: message", or which limit
    output_tail: str = ""
    duration_s: float = 0.0
    tier: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED
