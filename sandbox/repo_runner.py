"""The repository runner: run a repo's own pytest node ids, optionally with spliced sources.

Warm workers run under the repository's interpreter with pytest preloaded; each run is a
fork that imports the tree fresh. The user's files are never written: bwrap shows the
tree read-only and spliced modules come from an import hook; in the process tier each run
works in a fresh copy of the tree. Results are typed like the function-level harness, plus
every test's status (and, for the baseline, the functions each test called).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from .host import Sandbox
from .models import RunOutcome, RunResult, Runtime, SandboxSettings, TestStatusName
from .splice import SpliceError, forwarding_stub, splice_function, without_decorators

UNCONFIRMED = (
    "the tests passed in pytest's process but not with the candidate isolated "
    "from them (a pass in pytest's process can be forged, so it does not count)"
)

# Imported once per worker. Beyond speed, this lets a process-tier candidate that dropped
# to an unprivileged uid run pytest even when it cannot read the interpreter's own tree.
PYTEST_PRELOAD = [
    "pytest",
    "_pytest.*",
    "entry-points:pytest11",
    "email.*",
    "pluggy",
    "iniconfig",
    "tomllib",
    "argparse",
    "shlex",
    "gettext",
    "locale",
    "warnings",
    "doctest",
    "unittest",
    "unittest.mock",
    "importlib.metadata",
    "importlib.util",
    "platform",
    "tempfile",
    "signal",
    "threading",
    "email",
    "zipfile",
    "sysconfig",
    "pdb",
    "code",
    "codeop",
]
TRACE_ALLOWANCE = 4
DRIVER = Path(__file__).with_name("pytest_driver.py").read_text()


class TestStatus(BaseModel):
    status: TestStatusName
    message: str = ""


class SuiteRun(BaseModel):
    result: RunResult
    tests: dict[str, TestStatus] = Field(default_factory=dict)
    calls: dict[str, list[tuple[str, int]]] = Field(default_factory=dict)  # node id -> (file, line)
    collect_errors: list[tuple[str, str]] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.result.passed


def driver_program(
    node_ids: list[str], overrides: dict[str, str], trace: bool, test_timeout_s: float, fail_fast: bool = True
) -> str:
    header = (
        f"NODE_IDS = {node_ids!r}\nOVERRIDES = {overrides!r}\nTRACE = {trace!r}\n"
        f"TEST_TIMEOUT_S = {float(test_timeout_s)!r}\nFAIL_FAST = {fail_fast!r}\n"
    )
    return header + DRIVER


class RepoRunner:
    """Runs one repository's tests; `python` is the interpreter that has its dependencies."""

    def __init__(
        self, root: Path, python: str, settings: SandboxSettings, test_timeout_s: float = 10.0
    ) -> None:
        self.root = root.resolve()
        self.test_timeout_s = test_timeout_s
        runtime = Runtime(python=python, repo_root=str(self.root), preload=PYTEST_PRELOAD)
        self.sandbox = Sandbox(settings, runtime)

    @property
    def tier(self) -> str:
        return self.sandbox.tier

    async def baseline(self, timeout_s: float) -> SuiteRun:
        """The whole suite as the repo configures it, tracing which functions each test calls."""
        return await self._run([], {}, trace=True, timeout_s=timeout_s, fail_fast=False)

    async def run(
        self,
        node_ids: list[str],
        overrides: dict[str, str] | None = None,
        timeout_s: float | None = None,
        fail_fast: bool = True,
    ) -> SuiteRun:
        """Only `node_ids`, with repo-relative files replaced by the given sources; with
        fail_fast the first failing test ends the run (enough to judge a candidate)."""
        if not node_ids:
            raise ValueError("no node ids to run")
        timeout = timeout_s or self.test_timeout_s * len(node_ids) + 15
        return await self._run(node_ids, overrides or {}, trace=False, timeout_s=timeout, fail_fast=fail_fast)

    async def run_candidate(self, rel: str, qualname: str, node_ids: list[str], code: str) -> RunResult:
        """Judge a candidate for `qualname` of module `rel` by the given tests: spliced
        into pytest's process first (most wrong answers end there), and a pass confirmed
        with the candidate in its own process; only a confirmed pass is a pass."""
        source = (self.root / rel).read_text()
        try:
            spliced = splice_function(source, qualname, code)
        except SpliceError as e:
            return RunResult(outcome=RunOutcome.ERROR, detail=str(e), tier=self.tier)
        shared = (await self.run(node_ids, {rel: spliced})).result
        if not shared.passed:
            return shared
        try:
            isolated = (await self.run_isolated(node_ids, rel, qualname, spliced)).result
        except SpliceError as e:
            isolated = RunResult(outcome=RunOutcome.ERROR, detail=str(e), tier=self.tier)
        if isolated.passed:
            return isolated.model_copy(update={"duration_s": shared.duration_s + isolated.duration_s})
        detail = f"{UNCONFIRMED}: {isolated.outcome.value}: {isolated.detail}"[:1500]
        return isolated.model_copy(update={"outcome": RunOutcome.ERROR, "detail": detail})

    async def run_isolated(
        self, node_ids: list[str], rel: str, qualname: str, candidate_module: str
    ) -> SuiteRun:
        """Only `node_ids`, with `qualname` of module `rel` taken from `candidate_module`
        but run in its own process, apart from pytest: a pass here cannot be forged by the
        candidate (sandbox/isolate.py says what cannot cross and so cannot confirm)."""
        if not node_ids:
            raise ValueError("no node ids to run")
        original = (self.root / rel).read_text()
        stub = forwarding_stub(original, qualname)
        served = without_decorators(candidate_module, qualname)
        return await self._run(
            node_ids,
            {rel: stub},
            trace=False,
            timeout_s=self.test_timeout_s * len(node_ids) + 15,
            fail_fast=True,
            isolate=(rel, qualname, served),
        )

    async def _run(
        self,
        node_ids: list[str],
        overrides: dict[str, str],
        trace: bool,
        timeout_s: float,
        fail_fast: bool,
        isolate: tuple[str, str, str] | None = None,
    ) -> SuiteRun:
        # tracing every call slows a test several times over (measured 3-4x on more-itertools):
        # the baseline allows for it, so a test is not lost to the tracer's cost alone
        per_test = self.test_timeout_s * (TRACE_ALLOWANCE if trace else 1)
        program = driver_program(node_ids, overrides, trace, per_test, fail_fast)
        if isolate is None:
            result = await self.sandbox.run(program, timeout_s=timeout_s)
        else:
            result = await self.sandbox.run_isolated(program, *isolate, timeout_s=timeout_s)
        data = result.data
        result = result.model_copy(update={"data": {}})
        return SuiteRun(
            result=result,
            tests={k: TestStatus(status=s, message=m) for k, (s, m) in data.get("tests", {}).items()},
            calls={k: [tuple(x) for x in v] for k, v in data.get("calls", {}).items()},
            collect_errors=[tuple(x) for x in data.get("collect_errors", [])],
        )

    async def close(self) -> None:
        await self.sandbox.close()

    async def __aenter__(self) -> RepoRunner:
        await self.sandbox.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
