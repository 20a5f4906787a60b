"""The code's habits hold: ruff (lint and format) and mypy find nothing (scripts/check.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_lint_format_and_types_are_clean() -> None:
    done = subprocess.run(["bash", "scripts/check.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


def test_one_version() -> None:
    """pyproject.toml is the source; the VS Code extension must say the same."""
    import json
    import tomllib

    from prochemy import __version__

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    extension = json.loads((ROOT / "editor-clients/vscode/package.json").read_text())["version"]
    assert __version__ == declared == extension
