"""Stored refinement runs: every run is saved wherever it starts, and `prochemy report`
opens it by id."""

from __future__ import annotations

from pathlib import Path

from .refine import RefineResult


class RunStore:
    """Refinement results as JSON under <cache>/runs/<run_id>.json."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, run_id: str) -> Path:
        return self.directory / f"{run_id}.json"

    def save(self, result: RefineResult) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(result.run_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(result.model_dump_json(indent=1))
        tmp.replace(path)
        return path

    def load(self, ref: str) -> RefineResult:
        """A run id (or unique prefix), or a path to a run file."""
        candidate = Path(ref)
        if candidate.is_file():
            return RefineResult.model_validate_json(candidate.read_text())
        matches = sorted(self.directory.glob(f"{ref}*.json"))
        if len(matches) != 1:
            known = ", ".join(p.stem for p in sorted(self.directory.glob("*.json"))) or "none"
            raise FileNotFoundError(f"no single stored run matches {ref!r} (runs: {known})")
        return RefineResult.model_validate_json(matches[0].read_text())
