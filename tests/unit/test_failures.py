"""Failure classes of verdicts, and the paired statistics of a held-out comparison."""

from __future__ import annotations

import pytest
from prochemy.optimizer.loop.evaluation import TaskOutcome
from prochemy.optimizer.loop.failures import Failure, classify, profile, render_profile
from prochemy.optimizer.loop.stats import paired_difference_ci, sign_test_p


@pytest.mark.parametrize(
    ("outcome", "detail", "expected"),
    [
        ("passed", "", None),
        ("failed", "assert candidate('xyx') == 'xyx'", Failure.WRONG_VALUE),
        ("failed", 'assert _ok, f"input #3 ...: got 1, expected 2"', Failure.WRONG_VALUE),
        ("failed", "raise AssertionError(...) (input #11 took longer than 1.00s)", Failure.TIMEOUT),
        ("timeout", "wall clock 10 s", Failure.TIMEOUT),
        ("resource-limit", "memory", Failure.TIMEOUT),
        ("error", "SyntaxError: '(' was never closed (line 12)", Failure.NO_CODE),
        ("error", "IndentationError: unexpected indent (line 3)", Failure.NO_CODE),
        ("error", "AssertionError: the candidate does not define slugify", Failure.SIGNATURE),
        ("error", "TypeError: f() takes 1 positional argument but 2 were given", Failure.SIGNATURE),
        ("error", "TypeError: f() got an unexpected keyword argument 'x'", Failure.SIGNATURE),
        ("error", "TypeError: must be str or None, not list", Failure.RAISED),
        ("error", "NameError: name 'math' is not defined", Failure.UNDEFINED),
        ("error", "ModuleNotFoundError: No module named 'numpy'", Failure.UNDEFINED),
        ("error", "AttributeError: module 're' has no attribute 'fullmatc'", Failure.UNDEFINED),
        ("error", "AttributeError: 'int' object has no attribute 'islower'", Failure.RAISED),
        ("error", "ValueError: math domain error", Failure.RAISED),
        ("error", "AssertionError: n must be positive", Failure.RAISED),  # the code's own assert
        # repository verdicts: the first failing test's message decides
        (
            "failed",
            "2 of 3 tests did not pass: tests/test_a.py::test_x failed: AssertionError: assert 'a' == 'b'; "
            "tests/test_a.py::test_y error: NameError: name 'z' is not defined",
            Failure.WRONG_VALUE,
        ),
        (
            "failed",
            "1 of 2 tests did not pass: tests/test_a.py::test_x failed: KeyError: 'k'",
            Failure.RAISED,
        ),
        (
            "error",
            "1 of 1 tests did not pass: tests/test_a.py::test_x error: "
            "NameError: name 'helper' is not defined",
            Failure.UNDEFINED,
        ),
        ("error", "collecting tests/test_a.py failed: SyntaxError: invalid syntax", Failure.NO_CODE),
        ("timeout", "1 of 1 tests did not pass: tests/test_a.py::test_x timeout", Failure.TIMEOUT),
    ],
)
def test_classify_verdicts(outcome: str, detail: str, expected: Failure | None) -> None:
    assert classify(outcome, detail) is expected


def test_code_and_truncation_decide_no_code() -> None:
    assert classify("error", "AssertionError: the candidate does not define f", code="") is Failure.NO_CODE
    assert classify("failed", "assert f(1) == 2", code="def f(x):\n  return [", truncated=True) is (
        Failure.NO_CODE
    )
    assert classify("passed", "", code="", truncated=True) is None


def test_a_name_error_on_the_entry_point_is_a_wrong_name() -> None:
    # a translation that kept the Java method's name: the tests call a name the code lacks
    detail = "NameError: name 'has_close_elements' is not defined"
    assert classify(
        "error", detail, code="def hasCloseElements(xs): ...", entry_point="has_close_elements"
    ) is (Failure.SIGNATURE)
    # any other undefined name is the code's own: a missing helper or import
    helper = "NameError: name 'helper' is not defined"
    assert classify("error", helper, code="def f(x): return helper(x)", entry_point="f") is Failure.UNDEFINED
    assert classify("error", detail) is Failure.UNDEFINED  # the entry point unknown (a stored outcome)


def test_profile_counts_every_class_in_order() -> None:
    counts = profile([Failure.WRONG_VALUE, None, Failure.WRONG_VALUE, Failure.UNDEFINED])
    assert list(counts) == [f.value for f in Failure]
    assert counts["wrong-value"] == 2 and counts["undefined"] == 1 and counts["timeout"] == 0
    assert render_profile(counts) == "3 failing: undefined name or missing import 1, wrong value 2"
    assert render_profile(profile([None])) == "no failures"


def test_stored_outcomes_without_a_class_are_classified_on_load() -> None:
    old = TaskOutcome.model_validate(
        {
            "passed": False,
            "base_passed": False,
            "outcome": "error",
            "detail": "NameError: x",
            "completion_tokens": 9,
        }
    )
    assert old.failure is Failure.UNDEFINED
    ok = TaskOutcome(passed=True, base_passed=True, outcome="passed", detail="", completion_tokens=9)
    assert ok.failure is None


def test_sign_test_matches_the_binomial() -> None:
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(5, 5) == 1.0
    assert sign_test_p(6, 0) == pytest.approx(2 / 64)  # 2 * (1/2)^6
    assert sign_test_p(0, 6) == sign_test_p(6, 0)
    assert sign_test_p(8, 1) == pytest.approx(2 * 10 / 512)  # (C(9,0) + C(9,1)) / 2^9, doubled
    assert sign_test_p(9, 4) > 0.05  # +5 tasks with 4 losses is not evidence


def test_paired_interval_contains_the_difference_and_shrinks_with_tasks() -> None:
    low, high = paired_difference_ci(10, 3, 164)
    assert low < 7 / 164 < high
    assert low < 0  # +7 of 164 with 13 discordant pairs: not significant
    small = paired_difference_ci(10, 0, 164)
    assert small[0] > 0
    wide, narrow = paired_difference_ci(6, 2, 40), paired_difference_ci(60, 20, 400)
    assert (wide[1] - wide[0]) > (narrow[1] - narrow[0])
    assert paired_difference_ci(0, 0, 0) == (0.0, 0.0)
