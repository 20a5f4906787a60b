"""Refined prompts per project: keyed by project root and model, with the test-tree
fingerprint each was refined against, its scores, and the history of earlier ones."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from pydantic import BaseModel, Field

from .llm.gateway import RoleUsage
from .loop.refine import HeldOutComparison
from .store import RecordStore


class StoredPrompt(BaseModel):
    prompt: str  # the prompt to generate with (P* if adopted, else the seed)
    adopted: str  # "refined" or "seed"
    best_prompt: str  # P*, even when the seed guard kept the seed
    seed_prompt: str
    tree: str  # fingerprint of the tests and sources it was refined against
    run_id: str
    train_pass: float | None  # best plain pass@1 on the training tasks
    held_out: HeldOutComparison | None
    stop_reason: str  # as RefineResult.stop_reason (budget: P* is the best so far)
    # the run's runners-up (RefineResult.runners_up): test-guided generation tries them first
    alternates: list[str] = []
    usage: dict[str, RoleUsage]
    wall_s: float
    created: float = Field(default_factory=time.time)


class ProjectRecord(BaseModel):
    root: str
    model: str
    current: StoredPrompt
    history: list[StoredPrompt] = Field(default_factory=list)  # older first

    def is_stale(self, tree: str) -> bool:
        return self.current.tree != tree


class ProjectStore(RecordStore[ProjectRecord]):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory, ProjectRecord)

    @staticmethod
    def key(root: Path, model: str) -> str:
        return hashlib.sha256(f"{root.resolve()}\0{model}".encode()).hexdigest()

    def load(self, root: Path, model: str) -> ProjectRecord | None:
        return self.get(self.key(root, model))

    def remember(self, root: Path, model: str, prompt: StoredPrompt) -> ProjectRecord:
        def change(record: ProjectRecord | None) -> ProjectRecord:
            if record is None:
                return ProjectRecord(root=str(root.resolve()), model=model, current=prompt)
            record.history.append(record.current)
            record.current = prompt
            return record

        return self.update(self.key(root, model), change)


class TranslationPrompts(RecordStore[StoredPrompt]):
    """Refined translation prompts, one per direction and model: translation is refined on
    HumanEval-X (`prochemy refine --benchmark translate-...`), not on a project's own tests,
    so every project of this user translates with it."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, StoredPrompt)

    @staticmethod
    def key(direction: str, model: str) -> str:
        return hashlib.sha256(f"translation\0{direction}\0{model}".encode()).hexdigest()
