"""tasks/related_tests.py: a function's related tests shown in its statement."""

from __future__ import annotations

from pathlib import Path

from prochemy.optimizer.tasks import RepoTarget, RepoTask
from prochemy.optimizer.tasks.related_tests import related_sources, show_tests
from prochemy.optimizer.tasks.repo_statement import TESTS_HIDDEN, TESTS_SHOWN, build_statement

TESTS = """import pytest


@pytest.mark.parametrize("text, out", [("A b", "a-b"), ("", "")])
def test_slug(text, out):
    assert slug(text) == out


class TestSlug:
    def test_rejects(self):
        with pytest.raises(TypeError):
            slug(3)


def test_unrelated():
    assert True
"""


def repo(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir(parents=True)
    (tmp_path / "pkg" / "text.py").write_text('def slug(text):\n    """A slug."""\n    return text\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_text.py").write_text(TESTS)
    return tmp_path


def task(root: Path, node_ids: list[str]) -> RepoTask:
    statement = build_statement(root, Path("pkg/text.py"), "slug", {"pkg.text": Path("pkg/text.py")})
    target = RepoTarget(root=str(root), module="pkg/text.py", qualname="slug", node_ids=node_ids, tree="t")
    return RepoTask(id="pkg/text.py::slug", statement=statement, entry_point="slug", repo=target)


IDS = [
    "tests/test_text.py::test_slug[A b-a-b]",
    "tests/test_text.py::test_slug[a::b-]",  # the same function: shown once
    "tests/test_text.py::TestSlug::test_rejects",
    "tests/gone.py::test_x",  # unreadable: skipped
    "../outside/test_secret.py::test_slug",  # outside the project: never read
]


def test_each_test_function_once_with_its_parameters(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "test_secret.py").write_text("def test_slug():\n    SECRET = 1\n")
    sources, left_out = related_sources(repo(tmp_path / "project"), IDS)
    assert left_out == 0 and len(sources) == 2
    assert sources[0].startswith("# tests/test_text.py\n@pytest.mark.parametrize(")
    assert '("A b", "a-b")' in sources[0]
    assert sources[1].startswith("# tests/test_text.py, class TestSlug\ndef test_rejects(self):")
    assert "test_unrelated" not in "".join(sources) and "SECRET" not in "".join(sources)


def test_the_statement_shows_them_before_the_signature(tmp_path: Path) -> None:
    root = repo(tmp_path)
    plain = task(root, IDS)
    assert TESTS_HIDDEN in plain.statement
    shown = show_tests(plain)
    assert TESTS_SHOWN in shown.statement and TESTS_HIDDEN not in shown.statement
    tests_at = shown.statement.index("Tests of the project that check it:")
    assert tests_at < shown.statement.index("Write the complete function")
    assert "def test_rejects(self):" in shown.statement
    assert shown.repo == plain.repo  # the judge is unchanged
    only_first = show_tests(plain, IDS[:1])  # a benchmark shows its visible half only
    assert "test_rejects" not in only_first.statement


def test_a_budget_leaves_tests_out_and_says_so(tmp_path: Path) -> None:
    root = repo(tmp_path)
    sources, left_out = related_sources(root, IDS, max_chars=200)
    assert len(sources) == 1 and left_out == 1
    assert "(1 more not shown)" in show_tests(task(root, IDS), max_chars=200).statement


def test_no_readable_test_leaves_the_task_alone(tmp_path: Path) -> None:
    plain = task(repo(tmp_path), ["tests/gone.py::test_x"])
    assert show_tests(plain) == plain
