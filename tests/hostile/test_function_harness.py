"""Every attack class against the function harness, in both tiers: the exact typed
outcome, no leaked secret or marker, and the host unchanged. Where the process tier
cannot contain an attack, the test asserts the documented limit instead."""

from __future__ import annotations

import glob
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from prochemy.sandbox import Sandbox

from .attacks import FUNCTION_ATTACKS, Attack
from .host import contained, descendants, run_attack, settings, targets


@pytest.fixture(scope="module")
def where(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with targets(tmp_path_factory.mktemp("hostile")) as found:
        yield found


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["bwrap", "process"])
async def box(request: pytest.FixtureRequest, where: dict[str, str]) -> AsyncIterator[Sandbox]:
    async with Sandbox(settings(request.param)) as sandbox:
        assert sandbox.tier == request.param
        assert (await sandbox.judge("def f(x):\n    return 2 * x\n", "assert f(2) == 4\n")).passed
        yield sandbox


@pytest.mark.parametrize("attack", FUNCTION_ATTACKS, ids=lambda a: a.name)
async def test_attack_is_contained(box: Sandbox, attack: Attack, where: dict[str, str]) -> None:
    before = descendants(box)
    result = await run_attack(box, attack, where)
    ok, why = contained(attack, result, where)
    for leftover in glob.glob("/tmp/flood-*"):  # the process tier's /tmp is the host's
        os.unlink(leftover)
    if box.tier == "process" and attack.process_limit and not ok:
        # the documented limit of the weaker tier (`prochemy doctor` names it)
        assert attack.process_limit
        return
    assert ok, f"{attack.name} ({box.tier}): {why}"
    assert descendants(box) <= before  # nothing it started outlives it
    follow_up = await box.judge("def f(x):\n    return x * 2\n", "assert f(2) == 4\n")
    assert follow_up.passed, follow_up.detail  # and the sandbox still judges correctly


async def test_a_right_answer_still_passes(box: Sandbox) -> None:
    result = await box.judge("def f(x):\n    return x * 2\n", "assert f(2) == 4\nassert f(3) == 6\n")
    assert result.passed, result.detail


async def test_tests_see_exceptions_and_plain_values(box: Sandbox) -> None:
    solution = (
        "def f(x):\n    if x < 0:\n        raise ValueError('negative')\n"
        "    return (x, [x], {x: {x}}, b'x', 1.5, None, 2 ** 100)\n"
    )
    tests = (
        "try:\n    f(-1)\nexcept ValueError as e:\n    assert str(e) == 'negative'\n"
        "else:\n    raise AssertionError('no ValueError')\n"
        "assert f(1) == (1, [1], {1: {1}}, b'x', 1.5, None, 2 ** 100)\n"
    )
    result = await box.judge(solution, tests)
    assert result.passed, result.detail


async def test_the_host_file_and_home_are_unchanged(where: dict[str, str]) -> None:
    # async only so the module's asyncio mark applies to every test alike
    assert Path(where["target"]).read_text() == "x = 1\n"
    assert not (Path.home() / ".prochemy-hostile-mark").exists()
    assert not Path("/etc/prochemy-hostile").exists()


@pytest.mark.parametrize("tier", ["bwrap", "process"])
async def test_candidates_die_with_a_killed_worker(tier: str) -> None:
    """The parent-death signal is set after the uid change (which clears it): a candidate
    must not outlive its worker in either tier."""
    import asyncio
    import signal

    async with Sandbox(settings(tier)) as box:
        assert (await box.judge("def f(x):\n    return 2 * x\n", "assert f(2) == 4\n")).passed
        before = descendants(box)
        pending = asyncio.ensure_future(
            box.judge(
                "import time\ntime.sleep(60)\ndef f(x):\n    return 0\n", "assert f(2) == 4\n", timeout_s=60
            )
        )
        for _ in range(100):
            if descendants(box) > before:
                break
            await asyncio.sleep(0.05)
        worker_pid = box.worker_pids()[0]
        victims = _descendant_pids(worker_pid)
        assert victims
        os.kill(worker_pid, signal.SIGKILL)
        result = await pending
        assert not result.passed
        await asyncio.sleep(0.5)
        assert [p for p in victims if Path(f"/proc/{p}").exists() and _state(p) != "Z"] == []


def _descendant_pids(root: int) -> list[int]:
    found, frontier = [], {root}
    while frontier:
        children = set()
        for pid in frontier:
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    children.update(int(c) for c in (task / "children").read_text().split())
                except OSError:
                    pass
        found.extend(children)
        frontier = children
    return found


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
