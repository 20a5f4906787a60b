"""Mining on a corpus of real libraries, checked against plain pytest (issue: repositories
that mine correctly). Not run in CI: it downloads sdists from PyPI and builds a venv per
library, as the library's users would (`python -m venv .venv && .venv/bin/pip install -e
'.[tests]'`, or `-e . pytest` when the sdist declares no test extra).

For each library:
- plain pytest in the library's own interpreter (a recorder plugin writes every test's
  status; PYTHONHASHSEED=0 as in the sandbox, since parametrize ids built from a set change
  with the seed) against the sandboxed baseline that mining starts from: same node ids and
  statuses, or each difference listed;
- mining (`prochemy mine`): functions seen, tasks, skips by reason, the share of public
  functions with a covering test that became tasks;
- the constraint-check oracle: for a seeded sample of mined tasks and of functions mining
  found "tests do not depend on it", the body is replaced in place (as mining does) and plain
  pytest runs the whole suite; a task must make each of its related tests fail, a "do not
  depend" function must fail nothing. The file is restored after each check.

    .venv/bin/python benchmarks/corpus.py [--only toolz,six] [--sample 4] [--workdir /tmp/prochemy-corpus]

Writes benchmarks/results/corpus.json (one row per library, updated as each finishes).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from prochemy.optimizer.config import RepoTests
from prochemy.optimizer.tasks.mining import (
    INCOMPLETE,
    UNCONFIRMABLE,
    baseline,
    isolation_cause,
    mine,
    repo_runner,
)
from prochemy.optimizer.tasks.repo_env import Project, RepoError
from prochemy.sandbox.models import SandboxSettings
from prochemy.sandbox.splice import stub_body

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Library:
    name: str
    version: str
    layout: str  # what it exercises
    extra_deps: list[str] = field(default_factory=list)


CORPUS = [
    Library("toolz", "1.2.0", "flat package, functions, tests inside the package"),
    Library("more-itertools", "11.2.1", "package re-exporting `from .more import *`, unittest suites"),
    Library("inflection", "0.5.1", "package-__init__ (all code in __init__.py), top-level test file"),
    Library("cachetools", "8.0.2", "src layout, classes and methods, unittest suites, tox.ini"),
    Library("humanize", "4.17.0", "src layout, pytest plugins from the test extra (pytest-cov)"),
    Library("boltons", "26.2.0", "many modules, classes, tox.ini"),
    Library("idna", "3.20", "unittest suites, 6400 data-driven tests", ["hypothesis"]),
    Library("semver", "3.1.2", "src layout, a class as the main API, .pytest.ini", ["pytest-cov"]),
    Library("six", "1.17.0", "single module, setup.cfg"),
    Library("parse", "1.22.4", "single-module package, coverage in addopts", ["pytest-cov"]),
    Library("python-slugify", "9.2.0", "package, unittest suite at the top level"),
    Library("funcy", "2.1", "package of function modules", ["whatever"]),
    Library("natsort", "8.4.0", "hypothesis and pytest-mock plugins", ["hypothesis", "pytest-mock"]),
    Library("isodate", "0.7.2", "src layout, setup.cfg"),
]

RECORDER = """
import json, os

_STATUS = {}


def pytest_runtest_logreport(report):
    node = report.nodeid
    if _STATUS.get(node) in ("failed", "error"):
        return  # a failed subtest fails its test, whatever the test's own report says
    if hasattr(report, "wasxfail"):
        _STATUS[node] = "xfailed"
    elif report.when == "call":
        _STATUS[node] = report.outcome
    elif report.failed:
        _STATUS[node] = "error"
    elif report.skipped:
        _STATUS[node] = "skipped"
    elif report.when == "setup":
        _STATUS.setdefault(node, "not run")


def pytest_sessionfinish(session):
    with open(os.environ["PROCHEMY_CORPUS_OUT"], "w") as f:
        json.dump(_STATUS, f)
"""


def fetch(lib: Library, workdir: Path) -> Path:
    """The sdist unpacked under workdir, with a .venv made as the library's users would."""
    url = f"https://pypi.org/pypi/{lib.name}/json"
    info = json.load(urllib.request.urlopen(url, timeout=60))
    files = info["releases"][lib.version] if lib.version in info.get("releases", {}) else info["urls"]
    sdist = next(u for u in files if u["packagetype"] == "sdist")
    if f"-{lib.version}.tar.gz" not in sdist["filename"]:
        raise RuntimeError(f"PyPI offers {sdist['filename']}, not {lib.name} {lib.version}")
    root = workdir / sdist["filename"].removesuffix(".tar.gz")
    if not root.is_dir():
        data = urllib.request.urlopen(urllib.parse.urljoin(url, sdist["url"]), timeout=120).read()
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(workdir, filter="data")
    venv = root / ".venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        extras = set(info["info"].get("provides_extra") or [])
        test_extra = next((e for e in ("tests", "test", "testing") if e in extras), None)
        target = f".[{test_extra}]" if test_extra else "."
        pip = [str(venv / "bin" / "pip"), "install", "-q", "-e", target, "pytest", *lib.extra_deps]
        subprocess.run(pip, cwd=root, check=True)
    return root


def plain_pytest(
    root: Path, timeout_s: float = 900, extra: tuple[str, ...] = ()
) -> tuple[dict[str, str], float]:
    """Every test's status under plain `python -m pytest` in the library's venv."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "prochemy_corpus_recorder.py").write_text(RECORDER)
        out = Path(tmp) / "status.json"
        env = dict(os.environ, PYTHONPATH=tmp, PROCHEMY_CORPUS_OUT=str(out))
        # the sandbox runs tests with a fixed hash seed; parametrize ids built from a set
        # (isodate) are only the same names under the same seed
        env["PYTHONHASHSEED"] = "0"
        t0 = time.monotonic()
        subprocess.run(
            [str(root / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "prochemy_corpus_recorder", *extra],
            cwd=root,
            env=env,
            capture_output=True,
            timeout=timeout_s,
        )
        wall = time.monotonic() - t0
        return (json.loads(out.read_text()) if out.exists() else {}), wall


def _is_public(function: str) -> bool:
    rel, _, qualname = function.partition("::")
    return not any(p.startswith("_") for p in qualname.split(".")) and not any(
        p.startswith("_") and p != "__init__.py" for p in Path(rel).parts
    )


def _summary_of_skips(skipped: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in skipped:
        kind = re.sub(r" \(.*", "", s["reason"])
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def stubbed_run(root: Path, rel: str, qualname: str, plain: dict[str, str]) -> set[str]:
    """Tests that pass in plain pytest but not with the function's body replaced."""
    path = root / rel
    original = path.read_bytes()
    digest = hashlib.sha256(original).hexdigest()
    try:
        path.write_text(stub_body(original.decode(), qualname))
        statuses, _ = plain_pytest(root, extra=("--tb=no",))  # thousands of tracebacks: minutes (idna)
    finally:
        path.write_bytes(original)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    return {n for n, s in plain.items() if s == "passed" and statuses.get(n) != "passed"}


async def measure(lib: Library, workdir: Path, sample: int) -> dict:
    row: dict = {"library": f"{lib.name} {lib.version}", "layout": lib.layout}
    t0 = time.monotonic()
    root = fetch(lib, workdir)
    row["setup_s"] = round(time.monotonic() - t0, 1)
    plain, row["plain_pytest_s"] = plain_pytest(root)
    row["plain"] = {
        "collected": len(plain),
        "passed": sum(s == "passed" for s in plain.values()),
        "by_status": {s: sum(v == s for v in plain.values()) for s in sorted(set(plain.values()))},
    }
    cfg, limits = RepoTests(), SandboxSettings()
    project = Project.resolve(root, None)
    row["pytest"] = project.interpreter.pytest_version
    # the sandboxed baseline mining starts from, compared test by test
    async with repo_runner(project.root, project.interpreter.path, limits, cfg) as runner:
        tb = time.monotonic()
        try:
            base = {k: v.status for k, v in (await baseline(runner, cfg)).tests.items()}
        except RepoError as e:
            base, row["baseline_error"] = {}, str(e)
        row["sandbox_baseline_s"] = round(time.monotonic() - tb, 1)
    differ = sorted(
        (n, base.get(n, "absent"), plain.get(n, "absent"))
        for n in set(base) | set(plain)
        if base.get(n, "absent") != plain.get(n, "absent")
    )
    row["baseline"] = {
        "collected": len(base),
        "passed": sum(s == "passed" for s in base.values()),
        "agree": len(differ) == 0,
        "differences": [{"test": n, "sandbox": b, "plain": p} for n, b, p in differ[:40]],
        "differences_total": len(differ),
    }
    tm = time.monotonic()
    try:
        report = await mine(project, cfg, limits)
    except RepoError as e:
        row["mining_error"] = str(e)
        return row
    row["mining_s"] = round(time.monotonic() - tm, 1)
    skipped = [s.model_dump() for s in report.skipped]
    task_names = {f"{t.repo.module}::{t.repo.qualname}" for t in report.tasks}
    public_covered = [
        s["function"]
        for s in skipped
        if _is_public(s["function"]) and s["reason"] != "not called by any passing test"
    ] + [n for n in task_names if _is_public(n)]
    public_covered_skips = [
        s for s in skipped if _is_public(s["function"]) and s["reason"] != "not called by any passing test"
    ]
    row["mining"] = {
        "functions_seen": report.functions_seen,
        "tasks": len(report.tasks),
        "skipped": _summary_of_skips(skipped),
        "unchecked": len(report.unchecked),
        "unchecked_examples": [f"{s.function}: {s.reason[:300]}" for s in report.unchecked[:5]],
        "unconfirmable_examples": [
            f"{s.function}: {s.reason[:200]}" for s in report.skipped if "isolation" in s.reason
        ][:5],
        "unconfirmable_by_cause": dict(
            Counter(
                isolation_cause(s["reason"])[0] for s in skipped if s["reason"].startswith(UNCONFIRMABLE)
            ).most_common()
        ),
        "public_with_covering_test": len(public_covered),
        "public_tasks": sum(_is_public(n) for n in task_names),
        "public_not_tasks_by_reason": _summary_of_skips(public_covered_skips),
    }
    # the constraint-check oracle on a seeded sample
    rng = random.Random(0)
    tasks = rng.sample(report.tasks, min(sample, len(report.tasks)))
    independent = [s for s in report.skipped if s.reason.startswith("tests do not depend on it")]
    independent = rng.sample(independent, min(sample, len(independent)))
    checks = []
    for t in tasks:
        broken = stubbed_run(root, t.repo.module, t.repo.qualname, plain)
        missing = sorted(set(t.repo.node_ids) - broken)
        checks.append(
            {
                "function": f"{t.repo.module}::{t.repo.qualname}",
                "mined": "task",
                "related": len(t.repo.node_ids),
                "plain_failing": len(broken),
                "agree": not missing and bool(broken),
                "related_that_pass_in_plain_pytest": missing[:5],
            }
        )
    for s in independent:
        rel, _, qualname = s.function.partition("::")
        broken = stubbed_run(root, rel, qualname, plain)
        checks.append(
            {
                "function": s.function,
                "mined": "tests do not depend on it",
                "plain_failing": len(broken),
                "agree": not broken,
                "failing_in_plain_pytest": sorted(broken)[:5],
            }
        )
    row["oracle"] = {
        "checked": len(checks),
        "agree": sum(c["agree"] for c in checks),
        "checks": checks,
    }
    row["incomplete_marker"] = INCOMPLETE
    row["total_s"] = round(time.monotonic() - t0, 1)
    return row


def table(rows: list[dict]) -> str:
    """The corpus as a Markdown table (for RESULTS.md)."""
    lines = [
        "| library | layout | plain pytest: collected (passed) | sandbox baseline | functions seen "
        "| tasks | public covered -> tasks | not checked | oracle | mining s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "mining" not in r:
            why = r.get("mining_error") or r.get("error") or "?"
            lines.append(f"| {r['library']} | {r['layout']} | | | | | | | | {why[:120]} |")
            continue
        p, b, m, o = r["plain"], r["baseline"], r["mining"], r["oracle"]
        same = "same" if b["agree"] else f"{b['differences_total']} differ"
        lines.append(
            f"| {r['library']} | {r['layout']} | {p['collected']} ({p['passed']}) | "
            f"{b['collected']} ({b['passed']}), {same} | {m['functions_seen']} | **{m['tasks']}** | "
            f"{m['public_with_covering_test']} -> {m['public_tasks']} | {m['unchecked']} | "
            f"{o['agree']}/{o['checked']} | {r['mining_s']} |"
        )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/prochemy-corpus"))
    parser.add_argument("--only", default="", help="comma-separated library names")
    parser.add_argument("--sample", type=int, default=4, help="tasks and independent functions per library")
    parser.add_argument("--out", type=Path, default=RESULTS / "corpus.json")
    parser.add_argument("--table", action="store_true", help="print the recorded corpus as Markdown")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text())))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    wanted = {n for n in args.only.split(",") if n}
    rows = json.loads(args.out.read_text()) if args.out.exists() and wanted else []
    for lib in CORPUS:
        if wanted and lib.name not in wanted:
            continue
        print(f"== {lib.name} {lib.version}", flush=True)
        try:
            row = await measure(lib, args.workdir, args.sample)
        except Exception as e:  # one library's failure is a finding, not the end of the corpus
            row = {"library": f"{lib.name} {lib.version}", "layout": lib.layout, "error": repr(e)[:500]}
        rows = [r for r in rows if r.get("library") != row["library"]] + [row]
        print(json.dumps({k: v for k, v in row.items() if k != "oracle"}, indent=1), flush=True)
        if "oracle" in row:
            print(f"oracle: {row['oracle']['agree']}/{row['oracle']['checked']} agree", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
