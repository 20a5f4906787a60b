"""Attacks on the repository runner. In pytest's own process a candidate can forge the
report, so a pass there is only a hint: it counts when a second run, with the candidate in
its own process and only data crossing back (sandbox/isolate.py), passes too. Each attack
fakes a pass in pytest's process (or tries worse) and must end as an error, through both
tiers, with the host unchanged; `--apply` never writes such code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prochemy.optimizer.tasks import RepoTarget, RepoTask
from prochemy.sandbox.models import SandboxSettings
from prochemy.sandbox.repo_runner import UNCONFIRMED, RepoRunner
from prochemy.sandbox.splice import splice_function
from prochemy.server.cli.main import main as cli

from ..repos import FLAT, judge_repo, python_for, tree_hash, write_repo
from ..stub_llm import StubLLM
from .attacks import LEAK, REPO_ALWAYS_EQUAL, REPO_ATTACKS, REPO_FORGE_FD, REPO_PATCH_PYTEST
from .host import SECRET, targets

NODES = ["tests/test_calc.py::test_add"]
TIERS = ["bwrap", "process"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "repo", FLAT)


def _task(repo: Path) -> RepoTask:
    return RepoTask(
        id="calc:add",
        statement="Implement `add`.",
        entry_point="add",
        origin="repository",
        repo=RepoTarget(root=str(repo), module="calc.py", qualname="add", node_ids=NODES, tree="t"),
    )


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("name", sorted(REPO_ATTACKS))
async def test_no_attack_gets_a_pass(repo: Path, tier: str, name: str, readable_python: Path) -> None:
    before = tree_hash(repo)
    async with RepoRunner(repo, python_for(tier, readable_python), SandboxSettings(level=tier)) as runner:
        result = await judge_repo(runner, _task(repo), REPO_ATTACKS[name])
        honest = await judge_repo(runner, _task(repo), "def add(a, b):\n    return a + b\n")
    assert result.outcome.value == "error", result.detail
    assert LEAK not in result.output_tail and LEAK not in result.detail
    assert honest.passed, honest.detail  # the runner survived the attack
    assert tree_hash(repo) == before


async def test_in_pytests_process_these_attacks_do_forge(repo: Path) -> None:
    """Why the isolated run exists: the same candidates, run only in pytest's process."""
    async with RepoRunner(repo, sys.executable, SandboxSettings(level="bwrap")) as runner:
        for code in (REPO_PATCH_PYTEST, REPO_ALWAYS_EQUAL):
            spliced = splice_function((repo / "calc.py").read_text(), "add", code)
            assert (await runner.run(NODES, {"calc.py": spliced})).passed
            result = await judge_repo(runner, _task(repo), code)
            assert result.outcome.value == "error" and result.detail.startswith(UNCONFIRMED)
        spliced = splice_function((repo / "calc.py").read_text(), "add", REPO_FORGE_FD)
        raw = await runner.run(NODES, {"calc.py": spliced})
    assert raw.result.outcome.value == "error" and "key" in raw.result.detail


async def test_secrets_and_host_sockets_are_out_of_reach(repo: Path, tmp_path: Path) -> None:
    with targets(tmp_path) as where:
        code = (
            "def add(a, b):\n    import glob, socket\n    seen = ''\n"
            "    for p in glob.glob('/proc/[0-9]*/environ') + glob.glob('/root/.prochemy-hostile-*'):\n"
            "        try:\n            seen += open(p).read()\n        except OSError:\n            pass\n"
            "    if 'sk-hostile' in seen:\n        print('ATTACK-GOT-THROUGH', seen[::-1])\n"
            "    s = socket.socket(socket.AF_UNIX)\n    try:\n"
            f"        s.connect({where['socket']!r})\n        print('ATTACK-GOT-THROUGH socket')\n"
            "    except OSError:\n        pass\n    return a + b\n"
        )
        async with RepoRunner(repo, sys.executable, SandboxSettings(level="bwrap")) as runner:
            result = await judge_repo(runner, _task(repo), code)
    assert result.passed, result.detail
    assert LEAK not in result.output_tail
    assert SECRET not in result.output_tail + result.detail


def test_apply_refuses_a_forged_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {**FLAT, "calc.py": FLAT["calc.py"].replace("return a + b", "raise NotImplementedError")},
    )
    before = tree_hash(repo)
    stub = StubLLM(responder=lambda messages: f"```python\n{REPO_PATCH_PYTEST}```").start()
    try:
        monkeypatch.setenv("PROCHEMY_TEST__PYTHON", sys.executable)
        code = cli(
            [
                "generate",
                str(repo),
                "--function",
                "calc:add",
                "--check",
                "--apply",
                "--endpoint",
                stub.url,
                "--model-name",
                "stub-model",
                "--cache-dir",
                str(tmp_path / "cache"),
            ]
        )
    finally:
        stub.stop()
    err = capsys.readouterr().err
    assert code == 1 and "not applied" in err
    assert tree_hash(repo) == before  # the user's module is untouched
