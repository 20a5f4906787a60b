"""The VS Code extension without VS Code (which cannot be downloaded here): it type-checks,
its pure parts pass their unit tests, it packages into a .vsix, and the real server
answers it over stdio from Node with vscode-jsonrpc (the client library's transport)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ..repos import EXAMPLE

EXT = Path(__file__).resolve().parents[2] / "editor-clients" / "vscode"


@pytest.fixture(scope="module")
def npm() -> str:
    found = shutil.which("npm")
    if found is None or not (EXT / "node_modules").is_dir():
        pytest.skip(
            "node/npm and the extension's packages are missing: scripts/setup.sh installs them (npm ci)"
        )
    return found


def run(*cmd: str, cwd: Path = EXT, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_typecheck_unit_tests_and_package(npm: str, tmp_path: Path) -> None:
    assert (done := run(npm, "run", "typecheck")).returncode == 0, done.stdout + done.stderr
    tested = run(npm, "test")
    assert tested.returncode == 0 and "# fail 0" in tested.stdout, tested.stdout + tested.stderr
    packaged = run(
        npm, "exec", "--", "vsce", "package", "--allow-missing-repository", "-o", str(tmp_path / "p.vsix")
    )
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    names = zipfile.ZipFile(tmp_path / "p.vsix").namelist()
    assert "extension/out/extension.js" in names
    assert "extension/node_modules/vscode-languageclient/lib/node/main.js" in names
    manifest = json.loads(zipfile.ZipFile(tmp_path / "p.vsix").read("extension/package.json"))
    titles = [c["title"] for c in manifest["contributes"]["commands"]]
    assert "Prochemy: Refine prompt for this repo" in titles


def test_the_server_answers_node_over_stdio(npm: str, tmp_path: Path) -> None:
    done = run(
        "node",
        str(EXT / "tools" / "smoke.mjs"),
        sys.executable,
        "-m",
        "prochemy.server.main",
        "--log-file",
        str(tmp_path / "lsp.log"),
        cwd=EXAMPLE,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "prochemy.refinePrompt" in result["commands"] and "prochemy.doctor" in result["commands"]
    assert result["codeActionProvider"]["resolveProvider"] is True
    assert result["inline"] is not None  # registered with InlineCompletionOptions()
    assert result["malformed"] == "error -32602" and result["exit"] == 0
