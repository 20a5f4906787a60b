"""The program the repository runner sends to a warm worker: run pytest on node ids.

Not imported by the host: its text is sent as a sandbox program, after a header that sets
NODE_IDS, OVERRIDES (repo-relative path -> spliced source), TRACE, TEST_TIMEOUT_S and FAIL_FAST. Runs
under the repository's own interpreter, stdlib + pytest only.

Spliced sources are served by an import hook, so no file of the tree changes and no .pyc
of a candidate is written. With TRACE, a profiler records which functions of the tree
each test calls (function granularity is all mining needs, and it needs no coverage.py
in the user's environment).
"""

import importlib.abc
import importlib.machinery
import importlib.util
import os
import signal
import sys
import threading

import pytest

NODE_IDS: list = globals().get("NODE_IDS", [])
OVERRIDES: dict = globals().get("OVERRIDES", {})
TRACE: bool = globals().get("TRACE", False)
TEST_TIMEOUT_S: float = globals().get("TEST_TIMEOUT_S", 10.0)
FAIL_FAST: bool = globals().get("FAIL_FAST", True)
# Set by the worker when the candidate runs in its own process (sandbox/isolate.py): the
# spliced module is then a forwarding stub, and its calls go through this link.
LINK = globals().get("__prochemy_link__")
PLUGIN_MODULES = globals().get("PLUGIN_MODULES")

sys.dont_write_bytecode = True
ROOT = os.path.realpath(os.environ["PROCHEMY_REPO_ROOT"])
os.chdir(ROOT)
sys.path.insert(0, ROOT)  # as `python -m pytest` run from the root does
SPLICED = {os.path.join(ROOT, rel): src for rel, src in OVERRIDES.items()}


class _SplicedLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname):
        return compile(SPLICED[self.path], self.path, "exec", dont_inherit=True)

    def get_source(self, fullname):
        return SPLICED[self.path]

    def exec_module(self, module):
        if LINK is not None:
            module.__dict__["__prochemy_forward__"] = LINK.forwarder(module.__name__)
        super().exec_module(module)


class _SplicedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.origin and os.path.realpath(spec.origin) in SPLICED:
            origin = os.path.realpath(spec.origin)
            # from a file location, so the module has __file__ (and a package its __path__)
            return importlib.util.spec_from_file_location(
                name,
                origin,
                loader=_SplicedLoader(name, origin),
                submodule_search_locations=spec.submodule_search_locations,
            )
        return None


_FINDER = _SplicedFinder()
sys.meta_path.insert(0, _FINDER)


class _TestTimeout(BaseException):
    """Raised in a test that overran; BaseException so `except Exception` cannot eat it."""


def _on_alarm(signum, frame):
    raise _TestTimeout(f"test exceeded {TEST_TIMEOUT_S:g}s")


def _in_tree(filename):
    return filename.startswith(ROOT + os.sep) and "site-packages" not in filename


class _Recorder:
    def __init__(self):
        self.tests = {}  # node id -> [status, message]
        self.calls = {}  # node id -> set of (relative file, first line)
        self.collect_errors = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        seen = set()

        def profile(frame, event, arg):
            if event == "call":
                code = frame.f_code
                seen.add((code.co_filename, code.co_firstlineno))

        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT_S)
        if TRACE:
            threading.setprofile(profile)
            sys.setprofile(profile)
        try:
            yield
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
            signal.setitimer(signal.ITIMER_REAL, 0)
        if TRACE:
            self.calls[item.nodeid] = sorted(
                (os.path.relpath(f, ROOT), line) for f, line in seen if _in_tree(f)
            )

    def pytest_sessionstart(self, session):
        # pytest's assertion rewriter, inserted in front of us at start-up, claims every
        # module named on the command line (a doctest's module: humanize) and compiles it
        # from disk: the candidate would silently not be the code under test. Ours first.
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        sys.meta_path.insert(0, _FINDER)

    def pytest_runtest_logreport(self, report):
        entry = self.tests.setdefault(report.nodeid, ["passed", ""])
        if report.failed:
            message = _message(report)
            if "_TestTimeout" in message or "test exceeded" in message:
                status = "timeout"
            else:
                status = "failed" if report.when == "call" else "error"
            if entry[0] in ("passed", "skipped"):
                self.tests[report.nodeid] = [status, message]
        elif report.skipped and entry[0] == "passed" and "subtest" not in type(report).__name__.lower():
            # (a skipped subtest does not skip its test: the test's own report decides)
            status = "xfailed" if hasattr(report, "wasxfail") else "skipped"
            self.tests[report.nodeid] = [status, _message(report)]

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append([report.nodeid, _message(report)])


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return (str(crash.message).strip().splitlines() or [""])[0][:400]
    if isinstance(report.longrepr, tuple):  # skips: (file, line, reason)
        return str(report.longrepr[-1])[:400]
    text = str(report.longrepr or "")
    return (text.strip().splitlines() or [""])[-1][:400]


def _report(recorder, exit_code):
    tests = recorder.tests
    wanted = NODE_IDS or list(tests)
    bad = [(n, tests.get(n, ["not run", ""])) for n in wanted if tests.get(n, ["not run"])[0] != "passed"]
    if NODE_IDS and FAIL_FAST and any(s != "not run" for _, (s, _) in bad):  # after -x
        bad = [b for b in bad if b[1][0] != "not run"]
    if recorder.collect_errors and NODE_IDS:
        outcome, first = "error", recorder.collect_errors[0]
        detail = f"collecting {first[0] or 'the tests'} failed: {first[1]}"
    elif not wanted:
        outcome, detail = "error", f"pytest ran no test (exit code {exit_code})"
    elif not bad and NODE_IDS and int(exit_code) != 0:
        # every test reported a pass, yet pytest did not end well (an internal error in a
        # hook, an interrupted session): the reports cannot be trusted, so no pass
        outcome, detail = "error", f"pytest ended with exit code {int(exit_code)} after the tests passed"
    elif not bad:
        outcome, detail = "passed", ""
    else:
        kinds = {status for _, (status, _) in bad}
        outcome = "timeout" if kinds == {"timeout"} else "failed" if "failed" in kinds else "error"
        shown = "; ".join(f"{n} {s}: {m}" if m else f"{n} {s}" for n, (s, m) in bad[:3])
        detail = f"{len(bad)} of {len(wanted)} tests did not pass: {shown}"[:1500]
    if LINK is not None and LINK.trouble is not None:  # whatever the tests made of it
        outcome, detail = "error", f"not confirmed in isolation: {LINK.trouble}"
    return {
        "outcome": outcome,
        "detail": detail,
        "data": {
            "tests": tests,
            "calls": recorder.calls,
            "collect_errors": recorder.collect_errors,
            "exit_code": int(exit_code),
        },
    }


_recorder = _Recorder()
_args = ["-q", "--tb=short", "--color=no", "-p", "no:cacheprovider", "--rootdir", ROOT]
if NODE_IDS and FAIL_FAST:  # judging a candidate: the first failure decides
    _args.append("-x")
if not NODE_IDS:  # the baseline: a test file that does not import must not hide the others
    _args.append("--continue-on-collection-errors")
# Plugins a project's addopts may switch on that measure or store, which the read-only tree
# cannot take (pytest-cov's .coverage made a whole suite look empty) and judging does not
# need: their own off switches, when they are installed.
for _module, _flag in (("pytest_cov", "--no-cov"), ("pytest_benchmark", "--benchmark-disable")):
    if importlib.util.find_spec(_module) is not None:
        _args.append(_flag)


# The warm worker imported the installed plugins before pytest's assertion-rewriting hook
# existed (plain pytest imports them after it), so pytest warns that it cannot rewrite them,
# and a project's `filterwarnings = error` turned that artifact of ours into a failed start.
# Ignore exactly that warning for exactly those modules; the project's filters stay.
def _rewrite_warning_filters():
    """PLUGIN_MODULES: the top-level modules of distributions with a pytest11 entry point
    (pytest marks them all), listed once by the warm worker that preloaded them."""
    old = int(pytest.__version__.split(".")[0]) < 8  # "rewritten: NAME"; -W cannot hold a colon
    for name in [n for n in PLUGIN_MODULES or [] if n in sys.modules]:
        text = "Module already imported so cannot be rewritten" + ("" if old else f"; {name}")
        yield from ("-W", f"ignore:{text}:pytest.PytestAssertRewriteWarning")


_args += list(_rewrite_warning_filters())


class _Tail:
    """stderr, keeping its last lines: pytest reports a conftest.py (or the package it
    imports) that fails to import there, before any collection report exists."""

    def __init__(self, inner):
        self.inner, self.text = inner, ""

    def write(self, text):
        self.text = (self.text + text)[-3000:]
        return self.inner.write(text)

    def __getattr__(self, name):
        return getattr(self.inner, name)


sys.stderr = _stderr = _Tail(sys.stderr)
_code = pytest.main(_args + list(NODE_IDS), plugins=[_recorder])
sys.stderr = _stderr.inner
if int(_code) in (3, 4) and not _recorder.tests and not _recorder.collect_errors:
    _recorder.collect_errors.append(["", _stderr.text.strip()[-1500:] or f"pytest exit code {int(_code)}"])
__report__ = _report(_recorder, _code)
