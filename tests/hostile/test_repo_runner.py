"""Attacks on the repository runner, where the candidate shares pytest's process: a forged
report is caught by its key, code that could reach the harness is refused by the screen,
and `--apply` never writes code whose pass was not verified that way. What the screen
cannot see (in-process tampering it does not recognise) is the documented limit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prochemy.optimizer.generation import run_in_repo
from prochemy.optimizer.tasks import RepoTarget, Task
from prochemy.sandbox.models import SandboxSettings
from prochemy.sandbox.repo_runner import RepoRunner
from prochemy.sandbox.screen import tamper_risk
from prochemy.sandbox.splice import splice_function
from prochemy.server.cli import main as cli

from ..repos import FLAT, tree_hash, write_repo
from ..stub_llm import StubLLM
from .attacks import REPO_FORGE_FD, REPO_OBFUSCATED, REPO_PATCH_PYTEST
from .host import SECRET, targets

NODES = ["tests/test_calc.py::test_add"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "repo", FLAT)


def _task(repo: Path) -> Task:
    return Task(id="calc:add", statement="Implement `add`.", entry_point="add", test="",
                origin="repository", repo=RepoTarget(root=str(repo), module="calc.py",
                                                      qualname="add", node_ids=NODES, tree="t"))


async def test_a_forged_report_is_an_error_not_a_pass(repo: Path) -> None:
    async with RepoRunner(repo, sys.executable, SandboxSettings(level="bwrap")) as runner:
        spliced = splice_function((repo / "calc.py").read_text(), "add", REPO_FORGE_FD)
        raw = await runner.run(NODES, {"calc.py": spliced})  # past the screen, on purpose
        screened = await run_in_repo(runner, _task(repo), REPO_FORGE_FD)
    assert raw.result.outcome.value == "error" and "key" in raw.result.detail
    assert screened.outcome.value == "error" and "refused before running" in screened.detail


@pytest.mark.parametrize("code", [REPO_PATCH_PYTEST, REPO_OBFUSCATED, REPO_FORGE_FD],
                         ids=["patch-pytest", "obfuscated-introspection", "forge-fd"])
async def test_the_screen_refuses_harness_tampering(repo: Path, code: str) -> None:
    assert tamper_risk(code) is not None
    async with RepoRunner(repo, sys.executable, SandboxSettings(level="bwrap")) as runner:
        result = await run_in_repo(runner, _task(repo), code)
    assert result.outcome.value == "error" and "could tamper with the test harness" in result.detail


async def test_documented_limit_in_process_tampering_past_the_screen(repo: Path) -> None:
    """Without the screen, code in pytest's process can patch pytest's reports: this is why
    the screen exists, and why `doctor` calls repository verdicts weaker than the split
    function harness."""
    async with RepoRunner(repo, sys.executable, SandboxSettings(level="bwrap")) as runner:
        spliced = splice_function((repo / "calc.py").read_text(), "add", REPO_PATCH_PYTEST)
        raw = await runner.run(NODES, {"calc.py": spliced})
    assert raw.result.outcome.value == "passed"  # the limit, asserted so a fix shows up


def test_ordinary_implementations_pass_the_screen() -> None:
    for code in ["def add(a, b):\n    return a + b\n",
                 "import os\n\ndef path_of(a):\n    return os.path.join('x', a)\n",
                 "def name(obj):\n    return getattr(obj, 'name', None)\n",
                 "import re\n\ndef slug(s):\n    return re.sub(r'\\W+', '-', s).strip('-').lower()\n"]:
        assert tamper_risk(code) is None, code


async def test_secrets_and_host_sockets_are_out_of_reach(repo: Path, tmp_path: Path) -> None:
    with targets(tmp_path) as where:
        code = ("def add(a, b):\n    import glob, socket\n    seen = ''\n"
                "    for p in glob.glob('/proc/[0-9]*/environ') + glob.glob('/root/.prochemy-hostile-*'):\n"
                "        try:\n            seen += open(p).read()\n        except OSError:\n            pass\n"
                "    if 'sk-hostile' in seen:\n        print('ATTACK-GOT-THROUGH', seen[::-1])\n"
                "    s = socket.socket(socket.AF_UNIX)\n    try:\n"
                f"        s.connect({where['socket']!r})\n        print('ATTACK-GOT-THROUGH socket')\n"
                "    except OSError:\n        pass\n    return a + b\n")
        async with RepoRunner(repo, sys.executable, SandboxSettings(level="bwrap")) as runner:
            spliced = splice_function((repo / "calc.py").read_text(), "add", code)
            run = await runner.run(NODES, {"calc.py": spliced})
    assert run.passed, run.result.detail
    assert "ATTACK-GOT-THROUGH" not in run.result.output_tail
    assert SECRET not in run.result.output_tail + run.result.detail


def test_apply_refuses_a_forged_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    repo = write_repo(tmp_path / "repo", {**FLAT, "calc.py": FLAT["calc.py"].replace(
        "return a + b", "raise NotImplementedError")})
    before = tree_hash(repo)
    stub = StubLLM(responder=lambda messages: f"```python\n{REPO_FORGE_FD}```").start()
    try:
        monkeypatch.setenv("PROCHEMY_TEST__PYTHON", sys.executable)
        code = cli(["generate", str(repo), "--function", "calc:add", "--check", "--apply",
                    "--endpoint", stub.url, "--model-name", "stub-model",
                    "--cache-dir", str(tmp_path / "cache")])
    finally:
        stub.stop()
    err = capsys.readouterr().err
    assert code == 1 and "not applied" in err
    assert tree_hash(repo) == before  # the user's module is untouched
