"""Mining tasks from a repository's own tests (real pytest runs in the sandbox, no LLM)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prochemy.optimizer.config import RepoTests
from prochemy.optimizer.tasks.mining import FIRST_STAGE, mine, repo_runner
from prochemy.optimizer.tasks.repo_env import Project, RepoError, find_interpreter
from prochemy.sandbox.models import SandboxSettings
from prochemy.sandbox.repo_runner import RepoRunner

from ..repos import BESIDE, EXAMPLE, FLAT, SRC_LAYOUT, tree_hash, write_repo

CFG = RepoTests(python=Path(sys.executable), test_timeout_s=5)
SANDBOX = SandboxSettings()


async def _mine(root: Path):
    return await mine(Project.resolve(root, CFG.python), CFG, SANDBOX)


def _skips(report) -> dict[str, str]:
    return {s.function: s.reason for s in report.skipped}


async def test_flat_layout_and_a_function_the_tests_do_not_depend_on(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "flat", FLAT)
    report = await _mine(repo)
    assert sorted(t.id for t in report.tasks) == ["calc.py::add", "calc.py::mul"]
    add = next(t for t in report.tasks if t.id == "calc.py::add")
    assert add.repo.node_ids == ["tests/test_calc.py::test_add"]
    assert "return a + b" not in add.statement and "def add(a, b):" in add.statement
    skips = _skips(report)
    assert skips["calc.py::unused"] == "not called by any passing test"
    assert skips["calc.py::shout"].startswith("tests do not depend on it")


async def test_src_layout_methods_conftest_fixture_and_a_network_test(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "src", SRC_LAYOUT)
    report = await _mine(repo)
    assert sorted(t.id for t in report.tasks) == [
        "src/geo/shapes.py::Circle.area",
        "src/geo/shapes.py::Circle.scaled",
    ]
    assert [(t.node_id, t.status) for t in report.excluded] == [
        ("tests/test_shapes.py::test_needs_network", "failed")
    ]
    area = next(t for t in report.tasks if t.id.endswith("Circle.area"))
    assert "class Circle" in area.statement and "self.r = r" in area.statement  # __init__ shown
    assert "math.pi * self.r" not in area.statement


async def test_tests_beside_the_code(tmp_path: Path) -> None:
    report = await _mine(write_repo(tmp_path / "beside", BESIDE))
    assert [t.id for t in report.tasks] == ["pkg/words.py::count_words"]
    assert report.tasks[0].repo.node_ids == ["pkg/words_test.py::test_count"]


async def test_a_repo_without_tests_says_what_was_looked_for(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "none", {"lib.py": "def f():\n    return 1\n"})
    with pytest.raises(RepoError, match=r"no tests found .*test_\*\.py"):
        await _mine(repo)


async def test_a_repo_whose_tests_all_fail(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "red",
        {
            "lib.py": "def f():\n    return 1\n",
            "test_lib.py": "from lib import f\n\ndef test_f():\n    assert f() == 2\n",
        },
    )
    with pytest.raises(RepoError, match="none of the 1 tests .* pass at baseline"):
        await _mine(repo)


def test_interpreter_choice(tmp_path: Path) -> None:
    assert "Prochemy's own" in find_interpreter(tmp_path, None).reason
    with pytest.raises(RepoError, match="does not exist"):
        find_interpreter(tmp_path, tmp_path / "nope" / "python")
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    assert find_interpreter(tmp_path, None).reason == "the project's own .venv/"


async def test_the_example_repository(tmp_path: Path) -> None:
    before = tree_hash(EXAMPLE)
    report = await _mine(EXAMPLE)
    assert tree_hash(EXAMPLE) == before
    assert report.tests_total == 60 and report.tests_passing == 58
    assert {t.node_id for t in report.excluded} == {
        "tests/test_dates.py::test_public_holidays_feed",
        "tests/test_text.py::test_title_case_keeps_acronyms",
    }
    assert len(report.tasks) >= 25
    assert _skips(report)["shelfkit/inventory.py::Inventory.by_tag"].startswith("tests do not depend")
    remove = next(t for t in report.tasks if t.id == "shelfkit/inventory.py::Inventory.remove")
    assert remove.reference.startswith("def remove(self, isbn: str, copies: int = 1) -> int:")


async def test_a_test_file_that_does_not_import_is_reported_and_the_rest_mined(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "broken", {**FLAT, "tests/test_broken.py": "def test_x(:\n    pass\n"})
    report = await _mine(repo)
    assert sorted(t.id for t in report.tasks) == ["calc.py::add", "calc.py::mul"]
    assert [node for node, _ in report.collect_errors] == ["tests/test_broken.py"]
    assert "SyntaxError" in report.collect_errors[0][1]


async def test_a_constraint_check_that_dies_is_undecided_and_never_cached(tmp_path: Path) -> None:
    """Issue 12: a check that did not run to completion must not read as "tests do not
    depend on it", and a report with an undecided function must not be cached."""
    from prochemy.optimizer.config import Settings
    from prochemy.optimizer.session import Session
    from prochemy.optimizer.tasks.mining import INCOMPLETE

    repo = write_repo(
        tmp_path / "dies",
        {
            "lib.py": "def double(x):\n    y = x * 2\n    return y\n",
            # with the body removed the test kills its own process: the run never reports
            "tests/test_lib.py": "import os, signal\nfrom lib import double\n\n\ndef test_double():\n"
            "    try:\n        assert double(2) == 4\n    except NotImplementedError:\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n",
        },
    )
    report = await _mine(repo)
    assert report.tasks == [] and not report.complete
    assert [s.function for s in report.unchecked] == ["lib.py::double"]
    assert report.unchecked[0].reason.startswith(INCOMPLETE)
    assert not any(s.reason.startswith("tests do not depend") for s in report.skipped)
    settings = Settings(cache_dir=tmp_path / "cache", test=CFG)
    async with Session(settings) as session:
        again = await session.mine(repo)
        assert not again.complete
        assert session.mining_results.clear() == 0  # nothing was cached


async def test_a_suite_that_turns_on_coverage_and_benchmarks_is_mined(tmp_path: Path) -> None:
    """Issue 12: `addopts = --cov` made pytest-cov write .coverage into the read-only tree,
    and the whole suite looked empty ("no tests found")."""
    pytest.importorskip("pytest_cov")
    pytest.importorskip("pytest_benchmark")
    repo = write_repo(
        tmp_path / "plugins",
        {
            "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "--cov=lib"\n',
            "lib/__init__.py": "def double(x):\n    y = x * 2\n    return y\n\n\n"
            "def triple(x):\n    y = x * 3\n    return y\n",
            "tests/test_lib.py": "from lib import double, triple\n\n\ndef test_double():\n"
            "    assert double(2) == 4\n\n\ndef test_triple(benchmark):\n"
            "    assert benchmark(triple, 2) == 6\n",
        },
    )
    report = await _mine(repo)
    assert report.tests_passing == 2
    assert sorted(t.id for t in report.tasks) == ["lib/__init__.py::double", "lib/__init__.py::triple"]


async def test_a_suite_that_turns_warnings_into_errors_is_mined(tmp_path: Path) -> None:
    """Issue 12 (humanize): `filterwarnings = error` turned pytest's "Module already imported
    so cannot be rewritten" about the plugins the warm worker preloads into a failed start,
    and the suite looked empty. Plain pytest imports plugins after its rewrite hook."""
    pytest.importorskip("pytest_cov")
    repo = write_repo(
        tmp_path / "strict",
        {
            "pyproject.toml": "[tool.pytest.ini_options]\n"
            # (pytest-asyncio, installed here, warns of its own defaults: as humanize does)
            'filterwarnings = ["error", "ignore::pytest.PytestDeprecationWarning"]\n',
            "lib.py": "import warnings\n\n\ndef double(x):\n    y = x * 2\n    return y\n\n\n"
            "def noisy(x):\n    warnings.warn('deprecated', DeprecationWarning)\n    return x\n",
            "tests/test_lib.py": "import pytest\nfrom lib import double, noisy\n\n\ndef test_double():\n"
            "    assert double(2) == 4\n\n\ndef test_noisy():\n    assert noisy(1) == 1\n",
        },
    )
    report = await _mine(repo)
    assert report.tests_total == 2 and report.tests_passing == 1  # the project's own filter still holds
    assert [t.node_id for t in report.excluded] == ["tests/test_lib.py::test_noisy"]
    assert [t.id for t in report.tasks] == ["lib.py::double"]


async def test_a_suite_that_writes_into_its_tree_at_start_up_is_explained(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "writes",
        {
            "conftest.py": "open('startup.log', 'w').write('hello')\n",
            "lib.py": "def double(x):\n    y = x * 2\n    return y\n",
            "tests/test_lib.py": "from lib import double\n\n\ndef test_double():\n"
            "    assert double(2) == 4\n",
        },
    )
    with pytest.raises(RepoError, match="writes into the project's tree"):
        await _mine(repo)


async def test_a_function_whose_own_code_cannot_be_confirmed_is_not_a_task(tmp_path: Path) -> None:
    """No candidate could ever count as passing it (its tests pass an open file, which
    cannot cross to an isolated candidate), so it would only be noise in training."""
    from prochemy.optimizer.tasks.mining import UNCONFIRMABLE

    repo = write_repo(
        tmp_path / "files",
        {
            "lib.py": "def size(f):\n    data = f.read()\n    return len(data)\n\n\n"
            "def double(x):\n    y = x * 2\n    return y\n\n\n"
            "def area(shape):\n    w = shape.w\n    return w * shape.h\n",
            "tests/test_lib.py": "from lib import area, double, size\n\n\ndef test_size(tmp_path):\n"
            "    (tmp_path / 'x').write_text('abc')\n    with open(tmp_path / 'x') as f:\n"
            "        assert size(f) == 3\n\n\ndef test_double():\n    assert double(2) == 4\n\n\n"
            "def test_area():\n    class Box:\n        w, h = 2, 3\n\n    assert area(Box()) == 6\n",
        },
    )
    report = await _mine(repo)
    assert [t.id for t in report.tasks] == ["lib.py::double"]
    assert _skips(report)["lib.py::size"].startswith(UNCONFIRMABLE)
    hints = {s.function: s.hint for s in report.skipped}
    assert "pickle cannot copy" in hints["lib.py::size"]  # what the user can do, in `prochemy mine`
    assert "define the class at module level" in hints["lib.py::area"]


async def test_a_name_defined_twice_is_not_mined(tmp_path: Path) -> None:
    """boltons' URL.path: a property's getter and setter share a qualname, so checking the
    setter stubbed the getter (and its verdict was wrong)."""
    repo = write_repo(
        tmp_path / "prop",
        {
            "box.py": "class Box:\n    def __init__(self):\n        self._v = 0\n\n"
            "    @property\n    def value(self):\n        v = self._v\n        return v\n\n"
            "    @value.setter\n    def value(self, v):\n        self._v = int(v)\n        return None\n",
            "tests/test_box.py": "from box import Box\n\n\ndef test_value():\n    b = Box()\n"
            "    b.value = '3'\n    assert b.value == 3\n",
        },
    )
    report = await _mine(repo)
    reasons = [s.reason for s in report.skipped if s.function == "box.py::Box.value"]
    assert len(reasons) == 2 and all("defined more than once" in r for r in reasons)
    assert not report.tasks


async def test_a_function_the_tests_call_at_import_is_mined(tmp_path: Path) -> None:
    """toolz builds its curried namespace at import: with the body removed, the test module
    fails to import. That is a dependency (it was reported "not checked", never cached)."""
    repo = write_repo(
        tmp_path / "atimport",
        {
            "lib.py": "def make_table(n):\n    table = {i: i * i for i in range(n)}\n    return table\n",
            "tests/test_lib.py": "from lib import make_table\n\nTABLE = make_table(4)\n\n\n"
            "def test_table():\n    assert TABLE[3] == 9 and make_table(2) == {0: 0, 1: 1}\n",
        },
    )
    report = await _mine(repo)
    assert not report.unchecked and report.complete
    assert [(t.id, t.repo.node_ids) for t in report.tasks] == [
        ("lib.py::make_table", ["tests/test_lib.py::test_table"])
    ]


async def test_a_function_the_package_calls_at_import_is_mined(tmp_path: Path) -> None:
    """natsort calls `natsort_keygen` in its __init__: with the body removed the package,
    and so conftest.py, fails to import and no test runs at all (it was "not checked")."""
    repo = write_repo(
        tmp_path / "atinit",
        {
            "pkg/__init__.py": "from .keys import keygen\n\nDEFAULT = keygen()\n",
            "pkg/keys.py": "def keygen():\n    key = lambda s: s.lower()\n    return key\n",
            "tests/conftest.py": "import pkg\n",
            "tests/test_keys.py": "import pkg\nfrom pkg.keys import keygen\n\n\n"
            "def test_keygen():\n    assert keygen()('A') == 'a' and pkg.DEFAULT('B') == 'b'\n",
        },
    )
    report = await _mine(repo)
    assert report.complete, report.unchecked
    assert [(t.id, t.repo.node_ids) for t in report.tasks] == [
        ("pkg/keys.py::keygen", ["tests/test_keys.py::test_keygen"])
    ]


async def test_a_module_with_doctests_is_checked_with_its_body_removed(tmp_path: Path) -> None:
    """humanize (`--doctest-modules`): a doctest's node id names the source module on the
    command line, pytest's assertion rewriter then compiled it from disk, and the stubbed
    body was never run: "tests do not depend on it", and any candidate passed."""
    repo = write_repo(
        tmp_path / "doctests",
        {
            "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "--doctest-modules"\n',
            "lib.py": "def helper(x):\n    y = x * 2\n    return y\n\n\n"
            'def double(x):\n    """Twice x.\n\n    >>> double(2)\n    4\n    """\n'
            "    z = helper(x)\n    return z\n",
            "tests/test_lib.py": "from lib import double\n\n\ndef test_double():\n"
            "    assert double(3) == 6\n",
        },
    )
    report = await _mine(repo)
    assert report.tests_passing == 2
    # double's own doctest is left out of its tests: a candidate rewrites that docstring
    assert sorted((t.id, sorted(t.repo.node_ids)) for t in report.tasks) == [
        ("lib.py::double", ["tests/test_lib.py::test_double"]),
        ("lib.py::helper", ["lib.py::lib.double", "tests/test_lib.py::test_double"]),
    ]
    helper = next(t for t in report.tasks if t.id == "lib.py::helper").repo.node_ids
    async with repo_runner(repo, str(CFG.python), SANDBOX, CFG) as runner:
        wrong = await runner.run_candidate("lib.py", "helper", helper, "def helper(x):\n    return x\n")
        right = await runner.run_candidate("lib.py", "helper", helper, "def helper(x):\n    return 2 * x\n")
    assert not wrong.passed and right.passed


async def test_a_refusal_of_isolation_at_import_is_final_not_unchecked(tmp_path: Path) -> None:
    """toolz, cachetools: a function whose answer cannot cross (a module) used while a test
    module imports: its isolated run ends before any test. That is a fixed property of its
    code (cache it), not a disturbed run (check again)."""
    from prochemy.optimizer.tasks.mining import UNCONFIRMABLE

    repo = write_repo(
        tmp_path / "refused",
        {
            "lib.py": "def load():\n    import json\n    return json\n",
            "tests/test_lib.py": "from lib import load\n\nJSON = load()\n\n\n"
            "def test_load():\n    assert load().dumps(1) == '1'\n",
        },
    )
    report = await _mine(repo)
    assert report.complete and not report.tasks
    assert _skips(report)["lib.py::load"].startswith(UNCONFIRMABLE)


async def test_a_function_covered_by_many_tests_is_checked_in_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """idna's data-driven suite covers a function with thousands of tests: the check runs
    the first stage, and the rest only when too few of the first fail. Here the first 220
    covering tests swallow the stub's error, so only the later ones show the dependence;
    `every` fails in all of them, so its related tests come from the first stage alone."""
    tests = (
        "import pytest\nfrom lib import every, late\n\n\n"
        "@pytest.mark.parametrize('i', range(220))\ndef test_a(i):\n    try:\n        late(i)\n"
        "    except NotImplementedError:\n        pass\n    assert every(i) == i + 1\n\n\n"
        "@pytest.mark.parametrize('i', range(3))\ndef test_z(i):\n    assert late(i) == i * 2\n"
    )
    repo = write_repo(
        tmp_path / "many",
        {
            "lib.py": "def late(i):\n    return i * 2\n\n\ndef every(i):\n    return i + 1\n",
            "tests/test_lib.py": tests,
        },
    )
    sizes: dict[str, list[int]] = {}
    run = RepoRunner.run

    async def counted(self, node_ids, overrides=None, **kw):
        for name in ("late", "every"):
            if overrides and f"def {name}(i):\n    raise NotImplementedError" in overrides.get("lib.py", ""):
                sizes.setdefault(name, []).append(len(node_ids))
        return await run(self, node_ids, overrides, **kw)

    monkeypatch.setattr(RepoRunner, "run", counted)
    report = await _mine(repo)
    assert sizes == {"every": [FIRST_STAGE], "late": [FIRST_STAGE, 223 - FIRST_STAGE]}
    related = {t.id: t.repo.node_ids for t in report.tasks}
    assert related["lib.py::late"] == [f"tests/test_lib.py::test_z[{i}]" for i in range(3)]
    every = related["lib.py::every"]
    assert len(every) == CFG.max_related_tests and all("::test_a[" in n for n in every)


SIBLINGS = {
    "a namespace package under src/, found through pytest's pythonpath (no install)": (
        {
            "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n',
            "src/nsp/text/shout.py": "def shout(s):\n    return s.upper() + '!'\n",
            "src/nsp/text/loud.py": "from nsp.text.shout import shout\n\n\n"
            "def join_loud(words):\n    return ' '.join(shout(w) for w in words)\n",
            "tests/test_text.py": "from nsp.text.loud import join_loud\n"
            "from nsp.text.shout import shout\n\n\n"
            "def test_shout():\n    assert shout('a') == 'A!'\n\n\n"
            "def test_join():\n    assert join_loud(['a', 'b']) == 'A! B!'\n",
        },
        ["src/nsp/text/loud.py::join_loud", "src/nsp/text/shout.py::shout"],
    ),
    "relative imports, a re-export under another name, setup.cfg, a data folder beside the tests": (
        {
            "setup.cfg": "[tool:pytest]\ntestpaths = checks\n",
            "pkg/__init__.py": "from . import words\nfrom .core import _double as double\n",
            "pkg/core.py": "from . import words\n\n\ndef _double(x):\n    return words.twice(x)\n",
            "pkg/words.py": "def twice(x):\n    return x * 2\n",
            "checks/test_pkg.py": "from pathlib import Path\n\nimport pkg\n\n"
            "DATA = Path(__file__).parent / 'data'\n\n\n"
            "def test_double():\n    assert pkg.double((DATA / 'word.txt').read_text().strip()) == 'abab'\n",
            "checks/data/word.txt": "ab\n",
        },
        ["pkg/core.py::_double", "pkg/words.py::twice"],
    ),
    "a unittest suite in files pytest finds through tox.ini's python_files": (
        {
            "tox.ini": "[pytest]\npython_files = check_*.py\n",
            "calc/__init__.py": "",
            "calc/ops.py": "def mean(xs):\n    return sum(xs) / len(xs)\n",
            "tests/check_ops.py": "import unittest\n\nfrom calc.ops import mean\n\n\n"
            "class MeanTest(unittest.TestCase):\n    def test_mean(self):\n"
            "        self.assertEqual(mean([1, 2, 3]), 2)\n",
            "specs/check_more.py": "from calc.ops import mean\n\n\ndef helper():\n    return [2, 4]\n\n\n"
            "def test_mean_again():\n    assert mean(helper()) == 3\n",
        },
        ["calc/ops.py::mean"],
    ),
}


@pytest.mark.parametrize("layout", list(SIBLINGS))
async def test_layouts_and_configurations_of_real_projects(tmp_path: Path, layout: str) -> None:
    """Each mined function is a task confirmed in isolation (the isolated run imports the
    module under the name and path pytest used), and a test module pytest collects is never
    mistaken for code to mine, whatever its name."""
    files, expected = SIBLINGS[layout]
    report = await _mine(write_repo(tmp_path / "repo", files))
    assert sorted(t.id for t in report.tasks) == expected, _skips(report)
    assert not any("check_" in s.function for s in report.skipped)


async def test_an_isolated_run_that_fails_at_import_is_final(tmp_path: Path) -> None:
    """boltons calls `reseed` while its test module is imported; isolated, the module's
    import fails the same way every time, so the verdict is final (cached), not "not
    checked"."""
    from prochemy.optimizer.tasks.mining import UNCONFIRMABLE

    repo = write_repo(
        tmp_path / "registry",
        {
            "lib.py": "REGISTRY = []\n\n\ndef register(x):\n    REGISTRY.append(x)\n    return x\n",
            "tests/test_lib.py": "from lib import REGISTRY, register\n\n"
            "register(1)\nassert REGISTRY == [1]\n\n\n"
            "def test_registry():\n    assert register(2) == 2 and REGISTRY == [1, 2]\n",
        },
    )
    report = await _mine(repo)
    assert report.complete and not report.tasks
    assert _skips(report)["lib.py::register"].startswith(UNCONFIRMABLE)
