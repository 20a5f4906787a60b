"""Mine code-generation tasks from a repository's own pytest suite.

1. Baseline: the whole suite once in the repository runner, recording each test's status
   and the functions of the tree it called. Red tests (failed, error, timeout, skipped)
   are excluded and listed.
2. Candidates: top-level functions and methods of top-level classes in non-test modules,
   called by at least one passing test, with a body within the size bounds.
3. Constraint check: the body is replaced by `raise NotImplementedError` and the covering
   tests run; the ones that now fail are the task's related tests. If none fails, the tests
   do not really depend on the function and it is skipped with that reason.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from prochemy.sandbox.models import SandboxSettings, TestStatusName, Tier
from prochemy.sandbox.pyparse import parse_python
from prochemy.sandbox.repo_runner import TRACE_ALLOWANCE, RepoRunner, SuiteRun
from prochemy.sandbox.splice import (
    Function,
    SpliceError,
    definitions,
    find_function,
    first_line,
    stub_body,
)
from pydantic import BaseModel, Field

from ..aio import gather_or_cancel
from ..config import RepoTests
from .model import RepoTarget, RepoTask
from .repo_env import Interpreter, Project, RepoError, is_test_file, module_map, module_name
from .repo_statement import build_statement, docstring_node

# Part of the mining cache key: a change to what mining concludes must not be served from an
# older run's cache (2: module names as pytest imports them; unconfirmable functions left out;
# 3: the traced baseline allows for the tracer's cost per test; plugins' rewrite warnings;
# names defined twice left out; a stub that breaks a test module's import is a dependency).
# 4: isolation carries objects rebuilt by a function; stubs of decorated inner functions parse;
# related tests from the first 200 covering tests when enough of them fail; the isolated
# run imports under pytest's name and path; collected test modules are never sources.
MINING_VERSION = 5  # 5: red tests recorded per function they call (`waiting`)


class TestOutcome(BaseModel):
    node_id: str
    status: TestStatusName
    message: str = ""
    hint: str = ""  # why the sandbox may differ from a plain run here, and what to change


def exclusion_hint(status: str, message: str, cfg: RepoTests, sandbox: SandboxSettings) -> str:
    """What a user can do about a test that does not pass in the sandbox's baseline, where
    the cause is one of the sandbox's own limits (plain pytest may pass it)."""
    text = message.lower()
    if status == "timeout":
        return (
            f"slower than test.test_timeout_s ({cfg.test_timeout_s:g}s per test, "
            f"x{TRACE_ALLOWANCE} while tracing); raise it to mine from this test"
        )
    if "can't start new thread" in text or "resource temporarily unavailable" in text:
        return (
            f"starts more threads or processes than sandbox.max_procs ({sandbox.max_procs}) allows; "
            "raise it to mine from this test"
        )
    if "read-only file system" in text:
        return "writes into the project tree, which is read-only in the sandbox (tests may write to /tmp)"
    if any(
        w in text
        for w in ("network is unreachable", "name or service not known", "temporary failure in name")
    ):
        return "needs the network, which the sandbox does not have"
    if "memoryerror" in text or "cannot allocate memory" in text:
        return f"needs more memory than test.memory_mb ({cfg.memory_mb} MB)"
    return ""


class Skip(BaseModel):
    function: str  # "path.py::Qual.name"
    reason: str
    hint: str = ""  # what the user can do about it, where something can be done


class MiningReport(BaseModel):
    root: str
    interpreter: Interpreter
    tier: Tier
    tree: str  # fingerprint of tests, sources and test configuration
    tests_total: int
    tests_passing: int
    excluded: list[TestOutcome]  # red at baseline, with the reason
    collect_errors: list[tuple[str, str]] = Field(default_factory=list)
    functions_seen: int
    tasks: list[RepoTask]
    skipped: list[Skip]
    baseline_s: float
    mining_s: float
    # functions whose constraint check did not run to completion (a worker died, the run
    # timed out): undecided, so a report that has any is never cached
    unchecked: list[Skip] = Field(default_factory=list)
    # "path.py::Qual.name" -> tests red at baseline that call it: a function written test
    # first (a stub whose tests exist and fail) is checked against these when generated
    waiting: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.unchecked

    @property
    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(s.reason.split(" (")[0] for s in self.skipped))


class _Candidate(BaseModel):
    rel: str
    qualname: str
    covering: list[str]


def _body_lines(fn: Function) -> int:
    body = fn.body[1:] if docstring_node(fn) is not None else fn.body
    if not body:
        return 0
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def repo_runner(root: Path, python: str, sandbox: SandboxSettings, cfg: RepoTests) -> RepoRunner:
    """A runner for a repo's tests: the sandbox's limits, with room for a test suite's memory."""
    limits = sandbox.model_copy(update={"memory_mb": max(sandbox.memory_mb, cfg.memory_mb)})
    return RepoRunner(root, python, limits, cfg.test_timeout_s)


async def baseline(runner: RepoRunner, cfg: RepoTests) -> SuiteRun:
    run = await runner.baseline(cfg.baseline_timeout_s)
    ended_early = run.result.outcome.value in ("timeout", "resource-limit") or any(
        marker in run.result.detail for marker in ("before the tests ended", "killed", "without a verdict")
    )
    if ended_early and not run.tests:  # not "no tests": the run itself did not finish
        raise RepoError(
            f"the baseline run of {runner.root}'s test suite did not complete "
            f"({run.result.outcome.value}: {run.result.detail[:200]}); give it more time "
            f"(test.baseline_timeout_s, now {cfg.baseline_timeout_s:g}s) or memory (test.memory_mb, "
            f"now {cfg.memory_mb}) and mine again"
        )
    output = run.result.output_tail + run.result.detail
    if not run.tests and "Read-only file system" in output:
        raise RepoError(
            f"the test suite of {runner.root} stopped before running any test: something at "
            "start-up (a conftest.py or a plugin switched on in addopts) writes into the project's "
            "tree, which the sandbox keeps read-only. Make it write under a temporary directory "
            f"(tmp_path, or the plugin's output option). Output: {output[-300:].strip()}"
        )
    if not run.tests:
        where = f" ({run.collect_errors[0][0]}: {run.collect_errors[0][1]})" if run.collect_errors else ""
        raise RepoError(
            f"no tests found in {runner.root}: pytest collected nothing (it looks for test_*.py "
            f"and *_test.py files, or the testpaths of pyproject.toml/pytest.ini){where}. "
            f"Output: {run.result.output_tail[-300:].strip() or run.result.detail}"
        )
    if not any(t.status == "passed" for t in run.tests.values()):
        shown = "; ".join(f"{k}: {v.status} {v.message}" for k, v in list(run.tests.items())[:3])
        raise RepoError(
            f"none of the {len(run.tests)} tests in {runner.root} pass at baseline, so "
            f"there is nothing to learn from (first: {shown})"
        )
    return run


async def mine(
    project: Project,
    cfg: RepoTests,
    sandbox: SandboxSettings,
    on_progress: Callable[[str], None] | None = None,
) -> MiningReport:
    say = on_progress or (lambda message: None)
    root, interpreter, files, tree_hash = (
        project.root,
        project.interpreter,
        project.files,
        project.fingerprint,
    )
    if not any(is_test_file(f) for f in files):
        raise RepoError(f"no tests found in {root}: no test_*.py, *_test.py or tests/ folder")
    t0 = time.monotonic()
    sources = [f for f in files if not is_test_file(f) and f.name not in ("setup.py", "noxfile.py")]
    async with repo_runner(root, interpreter.path, sandbox, cfg) as runner:
        say("baseline run of the test suite")
        tb = time.monotonic()
        base = await baseline(runner, cfg)
        baseline_s = time.monotonic() - tb
        passing = {k for k, v in base.tests.items() if v.status == "passed"}
        collected = _test_modules(base.tests)
        sources = [f for f in sources if f.as_posix() not in collected]
        callers: dict[tuple[str, int], list[str]] = {}
        for node_id in sorted(passing):
            for rel, line in base.calls.get(node_id, []):
                callers.setdefault((rel, line), []).append(node_id)
        red = {k for k, v in base.tests.items() if v.status in ("failed", "error")}
        red_callers: dict[tuple[str, int], list[str]] = {}
        for node_id in sorted(red):
            for rel, line in base.calls.get(node_id, []):
                red_callers.setdefault((rel, line), []).append(node_id)
        waiting = await asyncio.to_thread(_waiting, root, sources, red_callers)
        seen, candidates, skipped = await asyncio.to_thread(_candidates, root, sources, callers, cfg)
        say(f"checking {len(candidates)} candidates against their tests")
        checks = await gather_or_cancel(*(_checked(runner, root, c, cfg) for c in candidates))
    tasks = await asyncio.to_thread(_tasks, root, sources, candidates, checks, tree_hash, skipped)
    excluded = [
        TestOutcome(
            node_id=k,
            status=v.status,
            message=v.message,
            hint=exclusion_hint(v.status, v.message, cfg, sandbox),
        )
        for k, v in sorted(base.tests.items())
        if v.status != "passed"
    ]
    return MiningReport(
        root=str(root),
        interpreter=interpreter,
        tier=runner.tier,
        tree=tree_hash,
        tests_total=len(base.tests),
        tests_passing=len(passing),
        excluded=excluded,
        collect_errors=base.collect_errors,
        functions_seen=seen,
        tasks=tasks,
        skipped=sorted((s for s in skipped if not s.reason.startswith(INCOMPLETE)), key=lambda s: s.function),
        unchecked=[s for s in skipped if s.reason.startswith(INCOMPLETE)],
        baseline_s=round(baseline_s, 2),
        mining_s=round(time.monotonic() - t0, 2),
        waiting=waiting,
    )


def _waiting(
    root: Path, sources: list[Path], red_callers: dict[tuple[str, int], list[str]]
) -> dict[str, list[str]]:
    """Each source function that red tests call, with those tests."""
    found: dict[str, list[str]] = {}
    for rel in sources:
        if not any(r == str(rel) for r, _ in red_callers):
            continue
        try:
            tree = parse_python((root / rel).read_text())
        except (SyntaxError, UnicodeDecodeError):
            continue
        for qualname, fn, _ in definitions(tree):
            tests = red_callers.get((str(rel), first_line(fn)))
            if tests:
                found[f"{rel}::{qualname}"] = tests
    return found


def _candidates(
    root: Path, sources: list[Path], callers: dict[tuple[str, int], list[str]], cfg: RepoTests
) -> tuple[int, list[_Candidate], list[Skip]]:
    """Functions worth a constraint check, and why the others are skipped."""
    candidates: list[_Candidate] = []
    skipped: list[Skip] = []
    seen = 0
    for rel in sources:
        try:
            tree = parse_python((root / rel).read_text())
        except (SyntaxError, UnicodeDecodeError) as e:
            skipped.append(Skip(function=str(rel), reason=f"module does not parse ({e})"))
            continue
        found = definitions(tree)
        twice = {q for q, n in Counter(q for q, _, _ in found).items() if n > 1}
        dotted = module_name(root, rel)
        for qualname, fn, _ in found:
            seen += 1
            size = _body_lines(fn)
            key = (str(rel), first_line(fn))
            reason = None
            if fn.name.startswith("__") and fn.name.endswith("__"):
                reason = "special method"
            elif qualname in twice:
                # a property's getter and setter, overloads: splicing and stubbing work by
                # name, so a check of one would run the other (boltons' URL.path)
                reason = "defined more than once under this name (property setter, overload)"
            elif size == 0:
                reason = "no body (docstring only)"
            elif size < cfg.min_body_lines:
                reason = f"too small ({size} lines < test.min_body_lines {cfg.min_body_lines})"
            elif size > cfg.max_body_lines:
                reason = f"too large ({size} lines > test.max_body_lines {cfg.max_body_lines})"
            elif key not in callers:
                reason = "not called by any passing test"
            # its own doctest tests the docstring a candidate rewrites, not the candidate
            own_doctest = f"{rel}::{dotted}.{qualname}"
            covering = [n for n in callers.get(key, []) if n != own_doctest]
            if not reason and not covering:
                reason = "only its own doctest calls it (a candidate writes its own docstring)"
            if reason:
                skipped.append(Skip(function=f"{rel}::{qualname}", reason=reason))
            else:
                candidates.append(_Candidate(rel=str(rel), qualname=qualname, covering=covering))
    return seen, candidates, skipped


def _tasks(
    root: Path,
    sources: list[Path],
    candidates: list[_Candidate],
    checks: list[tuple[list[str], str | None]],
    tree_hash: str,
    skipped: list[Skip],
) -> list[RepoTask]:
    """A task per candidate whose tests depend on it (the others join `skipped`)."""
    modules = module_map(root, sources)
    tasks: list[RepoTask] = []
    for cand, (related, reason) in zip(candidates, checks):
        name = f"{cand.rel}::{cand.qualname}"
        if reason:
            hint = isolation_cause(reason)[1] if reason.startswith(UNCONFIRMABLE) else ""
            skipped.append(Skip(function=name, reason=reason, hint=hint))
            continue
        rel = Path(cand.rel)
        module_source = (root / rel).read_text()
        fn_node, _ = find_function(parse_python(module_source), cand.qualname)
        reference = textwrap.dedent(
            "".join(module_source.splitlines(keepends=True)[first_line(fn_node) - 1 : fn_node.end_lineno])
        )
        tasks.append(
            RepoTask(
                id=name,
                statement=build_statement(root, rel, cand.qualname, modules),
                entry_point=cand.qualname.split(".")[-1],
                reference=reference,
                repo=RepoTarget(
                    root=str(root), module=cand.rel, qualname=cand.qualname, node_ids=related, tree=tree_hash
                ),
            )
        )
    return tasks


def _test_modules(node_ids) -> set[str]:
    """Files pytest collected tests from (a `python_files = check_*.py` suite's too), but not
    a module collected only for its doctests (`pkg/mod.py::pkg.mod.func`): that one is code."""
    modules = set()
    for node_id in node_ids:
        path, _, name = node_id.partition("::")
        if "::" in name or "." not in name.partition("[")[0]:
            modules.add(path)
    return modules


INCOMPLETE = "constraint check did not complete"


UNCONFIRMABLE = "its own code cannot be confirmed in isolation"

# Why an isolated run refused, by the wording of sandbox/isolate.py: (marker, cause, what to do).
_REFUSALS = [
    (
        "Can't pickle local object",
        "a test's local class or function",
        "a test passes an object of a class defined inside a test function, which cannot be "
        "copied to the candidate's process: define the class at module level in the test file",
    ),
    (
        "cannot pickle 'module'",
        "a module object",
        "a test passes (or the function returns) a module object, which cannot be copied between processes",
    ),
    (
        "cannot pickle",
        "a value pickle cannot copy",
        "a test passes a value pickle cannot copy (a lock, an open file, a regex match): "
        "make the objects the function takes picklable, or pass the data they hold",
    ),
    (
        "cannot cross from the candidate",
        "an answer type that may not cross back",
        "the function returns an object of a type a candidate may not send back (only the "
        "repository's own classes, plain data and a few standard types are accepted)",
    ),
    (
        "cannot be sent back",
        "an answer type that may not cross back",
        "the function returns an object that cannot be copied back to the tests",
    ),
    (
        "could not read a value from the tests",
        "a value the candidate's process cannot rebuild",
        "a value the test passes cannot be rebuilt in another process (a class whose "
        "__reduce__ or __init__ needs what pickle does not keep)",
    ),
    ("did not import", "a module that does not import on its own", ""),
]
_OTHER_STATE = (
    "a test sees other state isolated",
    "with the function in its own process a test fails: it checks a global the function "
    "sets, a patch it applies to the module (monkeypatch, mock) or the identity of an object",
)


def isolation_cause(reason: str) -> tuple[str, str]:
    """(cause, what the user can do) for a function whose own code was not confirmed."""
    if "not confirmed in isolation" in reason:
        return next(((c, h) for marker, c, h in _REFUSALS if marker in reason), ("other refusal", ""))
    if "did not pass" in reason:
        return _OTHER_STATE
    return ("other", "")


async def _checked(
    runner: RepoRunner, root: Path, cand: _Candidate, cfg: RepoTests
) -> tuple[list[str], str | None]:
    """The related tests, if the function is a task: its tests depend on it, and its own
    code passes them with the function isolated from the tests (as candidates are judged;
    otherwise no candidate could ever count as passing it)."""
    related, reason = await _related(runner, root, cand, cfg)
    if reason is not None:
        return related, reason
    source = (root / cand.rel).read_text()
    for _ in range(2):  # a timeout may be the machine's: once more before concluding
        try:
            own = await runner.run_isolated(related, cand.rel, cand.qualname, source)
        except SpliceError as e:  # e.g. an async function: no stub forwards it yet
            return [], f"{UNCONFIRMABLE} ({e})"
        if own.passed:
            return related, None
        if own.result.outcome.value != "timeout":
            break
    detail = own.result.detail[:200]
    # deterministic, so final: a refusal of the link, a test module that does not import
    # with the function isolated (boltons calls `reseed` at import), two timeouts (calls
    # across processes are slower: boltons' IndexedSet)
    if own.result.outcome.value == "timeout":
        return [], f"{UNCONFIRMABLE} (timed out twice in isolation: {detail})"
    if own.result.detail.startswith("not confirmed in isolation") or own.collect_errors or own.tests:
        return [], f"{UNCONFIRMABLE} ({detail})"
    return [], f"{INCOMPLETE} (its isolated run: {own.result.outcome.value}: {detail})"  # ended early


async def _related(
    runner: RepoRunner, root: Path, cand: _Candidate, cfg: RepoTests
) -> tuple[list[str], str | None]:
    """The covering tests that fail once the body is gone, or why there are none. "None
    fail" is concluded only when every covering test ran and passed; a run that ended
    early (a dead worker, the wall clock) is retried once, then reported as incomplete.
    A function covered by thousands of tests (idna's data-driven suite) is checked on the
    first FIRST_STAGE of them, and on the rest only if fewer than enough of those fail."""
    stubbed = stub_body((root / cand.rel).read_text(), cand.qualname)
    covering = cand.covering
    stages = [covering[:FIRST_STAGE], covering[FIRST_STAGE:]] if len(covering) > FIRST_STAGE else [covering]
    failing: list[str] = []
    for nodes in stages:
        found, ran, run = await _stubbed_run(runner, nodes, cand.rel, stubbed)
        if not ran and not found:
            if failing:  # a later stage ended early: the first already showed the dependence
                break
            missing = sum(n not in run.tests for n in nodes)
            return [], (
                f"{INCOMPLETE} ({missing} of {len(covering)} covering tests did not run: "
                f"{run.result.outcome.value}: {run.result.detail[:200]})"
            )
        failing += found
        if len(failing) >= cfg.max_related_tests:
            break
    if failing:
        return failing[: cfg.max_related_tests], None
    return [], f"tests do not depend on it (all {len(covering)} covering tests pass with the body removed)"


FIRST_STAGE = 200


async def _stubbed_run(
    runner: RepoRunner, nodes: list[str], rel: str, stubbed: str
) -> tuple[list[str], bool, SuiteRun]:
    """The tests among `nodes` that fail with the stubbed module, and whether all of them
    ran (tried twice: one run may end early)."""
    run = None
    for _ in range(2):
        run = await runner.run(nodes, {rel: stubbed}, fail_fast=False)
        failing = [n for n in nodes if n in run.tests and run.tests[n].status != "passed"]
        if failing:
            return failing, True, run
        # the stub raised while a test module, a conftest.py or the package itself was
        # imported (toolz builds its curried namespace at import, natsort calls its
        # `natsort_keygen` in its __init__): the tests that never ran depend on it
        if any("NotImplementedError" in message for _, message in run.collect_errors):
            at_import = [n for n in nodes if n not in run.tests]
            if at_import:
                return at_import, True, run
        if all(n in run.tests for n in nodes):
            return [], True, run
    assert run is not None
    return [], False, run
