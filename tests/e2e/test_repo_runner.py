"""The repository runner: node ids in the sandbox, spliced sources, the user's tree untouched."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from prochemy.sandbox.isolation import SandboxUnavailable
from prochemy.sandbox.models import SandboxSettings
from prochemy.sandbox.repo_runner import RepoRunner
from prochemy.sandbox.splice import splice_function

from ..repos import FLAT, python_for, tree_hash, write_repo

TIERS = ["bwrap", "process"]
NODES = ["tests/test_calc.py::test_add"]


async def refused(repo: Path, python: str) -> bool:
    """As root, the process tier refuses a repository whose interpreter an unprivileged uid
    cannot run (a pyenv under a 0700 /root, say) rather than run its tests as root."""
    if os.geteuid() != 0:
        return False
    try:
        async with RepoRunner(repo, python, SandboxSettings(level="process", workers=1)):
            return False
    except SandboxUnavailable as e:
        assert "will not run them as root" in str(e)
        return True


async def test_the_process_tier_never_runs_repository_tests_as_root(
    repo: Path, readable_python: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root could run them as root")
    assert not await refused(repo, str(readable_python))  # runnable by an unprivileged uid
    unreadable = Path(sys.executable).resolve()
    if os.stat(Path("/root")).st_mode & 0o005 == 0 and str(unreadable).startswith("/root/"):
        assert await refused(repo, sys.executable)  # a pyenv under a 0700 /root: refused


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "repo", FLAT)


def _spliced(repo: Path, candidate: str, name: str = "add") -> dict[str, str]:
    return {"calc.py": splice_function((repo / "calc.py").read_text(), name, candidate)}


@pytest.mark.parametrize("tier", TIERS)
async def test_baseline_records_statuses_and_calls(repo: Path, tier: str, readable_python: Path) -> None:
    async with RepoRunner(repo, python_for(tier, readable_python), SandboxSettings(level=tier)) as runner:
        run = await runner.baseline(120)
    assert {k: v.status for k, v in run.tests.items()} == {
        "tests/test_calc.py::test_add": "passed",
        "tests/test_calc.py::test_mul": "passed",
        "tests/test_calc.py::test_shout_smoke": "passed",
    }
    assert ("calc.py", 1) in run.calls["tests/test_calc.py::test_add"]
    assert ("calc.py", 7) not in run.calls["tests/test_calc.py::test_add"]  # mul is not called


@pytest.mark.parametrize("tier", TIERS)
async def test_candidates_are_judged_and_the_tree_never_changes(
    repo: Path, tier: str, readable_python: Path
) -> None:
    before = tree_hash(repo)
    cases = {
        "def add(a, b):\n    return a + b\n": "passed",
        "def add(a, b):\n    return a - b\n": "failed",
        "def add(a, b):\n    raise KeyError('nope')\n": "failed",  # pytest reports raising tests as failed
        "def add(a, b):\n    while True:\n        pass\n": "timeout",
        # hostile: tries to delete and rewrite the user's files, then passes
        (
            "def add(a, b):\n    import os, shutil, glob\n"
            "    for f in glob.glob('**/*.py', recursive=True):\n"
            "        try:\n            os.remove(f)\n        except OSError:\n            pass\n"
            "    try:\n        open('calc.py', 'w').write('x = 1')\n    except OSError:\n        pass\n"
            "    return a + b\n"
        ): "passed",
    }
    settings = SandboxSettings(level=tier)
    async with RepoRunner(repo, python_for(tier, readable_python), settings, test_timeout_s=2) as runner:
        for candidate, expected in cases.items():
            run = await runner.run(NODES, _spliced(repo, candidate))
            assert run.result.outcome.value == expected, (candidate, run.result.detail)
    assert tree_hash(repo) == before
    assert not list(repo.rglob("__pycache__"))


async def test_a_module_that_fails_to_import_is_an_error(repo: Path) -> None:
    broken = (repo / "calc.py").read_text() + "\nraise ImportError('boom at import')\n"
    async with RepoRunner(repo, sys.executable, SandboxSettings()) as runner:
        run = await runner.run(NODES, {"calc.py": broken})
    assert run.result.outcome.value == "error"
    assert "boom at import" in run.result.detail


async def test_missing_node_id_is_an_error_not_a_pass(repo: Path) -> None:
    async with RepoRunner(repo, sys.executable, SandboxSettings()) as runner:
        run = await runner.run(["tests/test_calc.py::test_nope"])
    assert not run.passed


async def test_a_session_that_ends_badly_is_no_pass_even_if_every_report_passed(repo: Path) -> None:
    """A hook that raises after a failing test (here a conftest's; the recorder then never
    sees the failure) ends pytest with an internal error: the reports cannot be trusted."""
    (repo / "conftest.py").write_text(
        "def pytest_runtest_logreport(report):\n"
        "    if report.when == 'call' and report.failed:\n"
        "        raise RuntimeError('a hook broke')\n"
    )
    wrong = _spliced(repo, "def add(a, b):\n    return a - b\n")
    async with RepoRunner(repo, sys.executable, SandboxSettings()) as runner:
        run = await runner.run(NODES, wrong)
        right = await runner.run(NODES)
    assert not run.passed and "exit code 3" in run.result.detail
    assert right.passed  # the hook is harmless while the tests pass


async def test_a_test_with_a_skipped_subtest_is_a_pass(tmp_path: Path) -> None:
    """python-slugify: a subtest skipped for a missing optional backend made the whole test
    "skipped" in the sandbox while plain pytest passed it."""
    repo = write_repo(
        tmp_path / "subtests",
        {
            "lib.py": "def double(x):\n    return 2 * x\n",
            "tests/test_lib.py": "import unittest\nfrom lib import double\n\n\n"
            "class T(unittest.TestCase):\n    def test_double(self):\n"
            "        for backend in ('here', 'missing'):\n            with self.subTest(backend=backend):\n"
            "                if backend == 'missing':\n                    self.skipTest('not installed')\n"
            "                self.assertEqual(double(2), 4)\n",
        },
    )
    async with RepoRunner(repo, sys.executable, SandboxSettings()) as runner:
        run = await runner.baseline(120)
    assert {k: v.status for k, v in run.tests.items()} == {"tests/test_lib.py::T::test_double": "passed"}


async def test_a_write_to_a_closed_socket_raises_as_in_plain_python(tmp_path: Path) -> None:
    """boltons' socket tests: the warm worker's SIGPIPE default killed the test's process
    where Python raises BrokenPipeError (a "did not complete" constraint check)."""
    repo = write_repo(
        tmp_path / "pipe",
        {
            "lib.py": "def send_all(sock, data):\n    for _ in range(64):\n        sock.sendall(data)\n",
            "tests/test_lib.py": "import socket\n\nimport pytest\nfrom lib import send_all\n\n\n"
            "def test_closed_peer():\n    a, b = socket.socketpair()\n    b.close()\n"
            "    with pytest.raises(BrokenPipeError):\n        send_all(a, b'x' * 65536)\n",
        },
    )
    async with RepoRunner(repo, sys.executable, SandboxSettings()) as runner:
        run = await runner.baseline(120)
    assert {k: v.status for k, v in run.tests.items()} == {"tests/test_lib.py::test_closed_peer": "passed"}


async def test_a_killed_worker_leaves_no_copy_behind(repo: Path, readable_python: Path) -> None:
    """Process tier: each run works in a copy; a worker killed mid-run has its folder swept
    by the next worker that starts."""
    import asyncio
    import glob
    import os
    import signal
    import tempfile

    python = python_for("process", readable_python)
    pattern = os.path.join(tempfile.gettempdir(), "prochemy-sbx-*")
    before = set(glob.glob(pattern))
    slow = "def add(a, b):\n    import time\n    time.sleep(30)\n    return a + b\n"
    runner = RepoRunner(repo, python, SandboxSettings(level="process", workers=1), test_timeout_s=60)
    await runner.sandbox.start()
    pending = asyncio.ensure_future(runner.run(NODES, _spliced(repo, slow)))
    worker_pid = runner.sandbox.worker_pids()[0]
    for _ in range(100):  # until the run's copy exists
        if glob.glob(os.path.join(tempfile.gettempdir(), f"prochemy-sbx-{worker_pid}-*", "*", "repo")):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the run never made its copy")
    os.kill(worker_pid, signal.SIGKILL)
    result = await pending
    assert not result.passed
    await runner.close()
    await asyncio.sleep(0.5)
    sleepers = [
        p
        for p in os.listdir("/proc")
        if p.isdigit() and _cmdline(p).startswith(python) and "prochemy-sbx" in _cwd(p)
    ]
    assert sleepers == []  # the candidate died with its worker
    async with RepoRunner(repo, python, SandboxSettings(level="process", workers=1)) as again:
        assert (await again.run(NODES)).passed
    assert set(glob.glob(pattern)) - before == set()


def _cmdline(pid: str) -> str:
    try:
        return open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
    except OSError:
        return ""


def _cwd(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""
