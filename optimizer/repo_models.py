"""What the repository use cases take and return (optimizer/session.py), and how a function
is named on the command line."""

from __future__ import annotations

from prochemy.sandbox.models import RunResult
from pydantic import BaseModel

from .generation import Generation
from .guided import Guided
from .project_store import ProjectRecord
from .tasks import RepoTask
from .tasks.repo_env import RepoError


class NotConfirmed(RepoError):
    """Code is written into the user's module only after a confirmed pass."""


class FunctionGeneration(BaseModel):
    task: RepoTask
    generation: Generation
    prompt_source: str  # "refined", "seed (the refinement kept it)", "seed (no refinement yet)"
    stale: bool  # the tests changed since the prompt was refined
    check: RunResult | None = None
    check_note: str = ""  # why no check ran
    guided: Guided | None = None  # every candidate tried, when the related tests ran


class Implementation(BaseModel):
    made: FunctionGeneration
    new_source: str | None  # the given source with the function replaced, when it splices
    problem: str = ""  # why there is no new source


class ProjectState(BaseModel):
    root: str
    tree: str
    record: ProjectRecord | None
    # "refined" or "seed" when the repository's .prochemy/prompt.toml (for the model in use)
    # is what generation uses; None when there is none
    shared: str | None = None

    @property
    def stale(self) -> bool:
        return self.record is not None and self.record.is_stale(self.tree)


def parse_function_ref(ref: str) -> tuple[str, str]:
    """'pkg.module:Qual.name' or 'pkg/module.py:Qual.name' -> (module path or name, qualname)."""
    module, sep, qualname = ref.partition(":")
    if not sep or not module or not qualname:
        raise RepoError(
            f"--function {ref!r}: expected MODULE:QUALNAME, e.g. shelfkit.text:slugify "
            "or shelfkit/text.py:Inventory.add"
        )
    return module, qualname
