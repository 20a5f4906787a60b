"""The refined prompt as files in the repository, for a team to commit and review.

`.prochemy/prompt.toml` holds the adopted prompt with its scores, model, date and the test
tree it was refined on; `prochemy import` restores it into a user's store, and generation
uses it when it is present (saying so, and warning when the tests changed since). The same
rules also go, between markers that a re-export replaces, into `AGENTS.md` and
`.github/copilot-instructions.md`, which other coding tools read.
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .loop.refine import HeldOutComparison
from .project_store import ProjectRecord, StoredPrompt
from .prompts import PromptSpec
from .tasks.repo_env import RepoError

PROMPT_FILE = Path(".prochemy") / "prompt.toml"
RULE_FILES = (Path("AGENTS.md"), Path(".github") / "copilot-instructions.md")
BEGIN = "<!-- prochemy:begin (written by `prochemy export`; edits here are replaced) -->"
END = "<!-- prochemy:end -->"


class ProjectFileError(RepoError):
    """The project's prompt file cannot be used; the message says why and what to do."""


class HeldOutScores(BaseModel):
    tasks: int
    seed_passed: int
    best_passed: int
    only_best: int
    only_seed: int
    sign_test_p: float
    # what an import needs to restore the comparison whole (files exported before had counts only)
    serial: bool = True
    seed_base_passed: int | None = None
    best_base_passed: int | None = None
    only_best_tasks: list[str] = []
    only_seed_tasks: list[str] = []

    def comparison(self) -> HeldOutComparison | None:
        if (len(self.only_best_tasks), len(self.only_seed_tasks)) != (self.only_best, self.only_seed):
            return None  # counts without the task lists: nothing to restore faithfully
        return HeldOutComparison(
            tasks=self.tasks,
            serial=self.serial,
            seed_passed=self.seed_passed,
            best_passed=self.best_passed,
            seed_base_passed=self.seed_passed if self.seed_base_passed is None else self.seed_base_passed,
            best_base_passed=self.best_passed if self.best_base_passed is None else self.best_base_passed,
            only_best=self.only_best_tasks,
            only_seed=self.only_seed_tasks,
        )


class ExportedPrompt(BaseModel):
    prompt: str
    adopted: str  # "refined" or "seed"
    best_prompt: str
    seed_prompt: str
    model: str  # the model identity it was refined with
    tree: str  # fingerprint of the tests and sources it was refined on
    run_id: str
    train_pass: float | None
    held_out: HeldOutScores | None
    stop_reason: str
    alternates: list[str] = []  # files exported before runners-up were kept have none
    exported: str  # ISO date

    @classmethod
    def of(cls, record: ProjectRecord) -> ExportedPrompt:
        cur = record.current
        h = cur.held_out
        return cls(
            **cur.model_dump(include=_SHARED),
            model=record.model,
            held_out=None
            if h is None
            else HeldOutScores(
                tasks=h.tasks,
                seed_passed=h.seed_passed,
                best_passed=h.best_passed,
                only_best=len(h.only_best),
                only_seed=len(h.only_seed),
                sign_test_p=round(h.sign_test_p, 4),
                serial=h.serial,
                seed_base_passed=h.seed_base_passed,
                best_base_passed=h.best_base_passed,
                only_best_tasks=h.only_best,
                only_seed_tasks=h.only_seed,
            ),
            exported=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def stored(self) -> StoredPrompt:
        """Back into a user's store: the prompt and its scores (not the run's usage)."""
        held = None if self.held_out is None else self.held_out.comparison()
        return StoredPrompt(**self.model_dump(include=_SHARED), held_out=held, usage={}, wall_s=0.0)


# what a stored prompt and its exported form have in common
_SHARED = {
    "prompt",
    "adopted",
    "best_prompt",
    "seed_prompt",
    "tree",
    "run_id",
    "train_pass",
    "stop_reason",
    "alternates",
}


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def to_toml(exported: ExportedPrompt) -> str:
    lines = ["# The code-generation prompt Prochemy refined for this repository (prochemy export).", ""]
    data = exported.model_dump()
    held = data.pop("held_out")
    lines += [f"{key} = {_toml_value(value)}" for key, value in data.items() if value is not None]
    if held is not None:
        lines += ["", "[held_out]"] + [f"{key} = {_toml_value(value)}" for key, value in held.items()]
    return "\n".join(lines) + "\n"


def read_prompt_file(root: Path) -> ExportedPrompt | None:
    path = root / PROMPT_FILE
    if not path.is_file():
        return None
    try:
        return ExportedPrompt.model_validate(tomllib.loads(path.read_text()))
    except (tomllib.TOMLDecodeError, ValidationError, UnicodeDecodeError) as e:
        raise ProjectFileError(
            f"{path} cannot be read ({str(e).splitlines()[0]}); fix it, or write it again with "
            "`prochemy export`, or delete it to use your own stored prompt"
        ) from None


def rules_section(exported: ExportedPrompt) -> str:
    spec = PromptSpec.parse(exported.prompt)
    h = exported.held_out
    evidence = (
        f"on {h.tasks} held-out tasks mined from this repository's tests: seed {h.seed_passed}, "
        f"this prompt {h.best_passed} (sign test p = {h.sign_test_p})"
        if h is not None
        else "no held-out comparison recorded"
    )
    kind = "refined by Prochemy" if exported.adopted == "refined" else "the seed prompt (refinement kept it)"
    return (
        f"{BEGIN}\n## Code-generation instructions ({kind})\n\n{spec.instruction.strip()}\n\n"
        f"_Model {exported.model}; {evidence}; exported {exported.exported}._\n{END}\n"
    )


def replace_section(text: str, section: str) -> str:
    """`text` with its Prochemy section replaced (or the section appended)."""
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end > start:
        return text[:start] + section + text[end + len(END) :].lstrip("\n")
    return (text.rstrip("\n") + "\n\n" if text.strip() else "") + section


def write_project_files(root: Path, exported: ExportedPrompt) -> list[Path]:
    written = []
    path = root / PROMPT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_toml(exported))
    written.append(path)
    section = rules_section(exported)
    for rel in RULE_FILES:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(replace_section(target.read_text() if target.is_file() else "", section))
        written.append(target)
    return written
