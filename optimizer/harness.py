"""The function-level harness: what judges a candidate for a task.

A judgement is a pair (solution, tests) for `Sandbox.judge`: the candidate runs in its own
process and the tests in another, where each function the candidate defines is a proxy
that returns plain data. The tests' helpers come from the task, never from the candidate:
a HumanEval statement defines helpers the tests use (`poly`, `encode_cyclic`), and a
candidate's own version of one must not decide its verdict.
"""

from __future__ import annotations

import ast
import json
from typing import NamedTuple

from prochemy.sandbox.pyparse import parse_python

from .tasks import FunctionTask


class Judgement(NamedTuple):
    solution: str  # untrusted: runs in the candidate's process
    tests: str  # trusted: runs in the judge's process


def trusted_helpers(task: FunctionTask) -> str:
    """Imports and helper definitions of a statement that is code (HumanEval's prompts),
    without the entry point itself; "" when the statement is prose."""
    try:
        tree = parse_python(task.statement)
    except SyntaxError:
        return ""
    keep = [
        node
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        or (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name != task.entry_point
        )
    ]
    return "\n\n".join(ast.get_source_segment(task.statement, node) or "" for node in keep)


# EvalPlus: a per-input limit of max(floor, factor x the reference's time).
PLUS_MIN_TIME_LIMIT_S = 1.0
PLUS_TIME_FACTOR = 4.0


def check_job(task: FunctionTask, code: str) -> Judgement:
    """The task's own tests against the candidate's functions."""
    return Judgement(code, f"{trusted_helpers(task)}\n\n{task.test}")


_PLUS_RUNNER = r"""
import copy as _copy, json as _json, math as _math, signal as _signal, time as _time

_ref_ns = {}
exec(compile(_REFERENCE, "<reference>", "exec"), _ref_ns)
_ref, _cand = _ref_ns[_ENTRY], globals().get(_ENTRY)  # the candidate's, as a proxy
assert _cand is not None, "the candidate does not define " + _ENTRY


class _TooSlow(Exception):
    pass


def _alarm(*_):
    raise _TooSlow()


_signal.signal(_signal.SIGALRM, _alarm)


def _same(got, want, atol):
    if isinstance(want, float) or isinstance(got, float):
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return False
        if _math.isnan(want) and _math.isnan(got):
            return True
        return _math.isclose(got, want, rel_tol=1e-07, abs_tol=atol or 1e-06)
    if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)):
        return (type(got) is type(want) and len(got) == len(want)
                and all(_same(g, w, atol) for g, w in zip(got, want)))
    return got == want


for _i, _args in enumerate(_json.loads(_INPUTS)):
    _start = _time.perf_counter()
    _want = _ref(*_copy.deepcopy(_args))
    _limit = max(_MIN_LIMIT, _FACTOR * (_time.perf_counter() - _start))
    # the candidate's own process times its compute (sending a large answer back is not
    # its cost); the alarm bounds the whole call in case it never answers
    _signal.setitimer(_signal.ITIMER_REAL, 3 * _limit + 2)
    try:
        _got = _cand(*_copy.deepcopy(_args))
    except _TooSlow:
        raise AssertionError(f"input #{_i} took longer than {_limit:.2f}s") from None
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
    _spent = _cand.link.last_s if hasattr(_cand, "link") else 0.0
    assert _spent <= _limit, f"input #{_i} took longer than {_limit:.2f}s ({_spent:.2f}s)"
    if _ENTRY == "find_zero":  # any root will do: check it, as EvalPlus does
        _ok = abs(_ref_ns["poly"](*_args, _got)) <= (_ATOL or 1e-06)
    else:
        _ok = _same(_got, _want, _ATOL)
    assert _ok, f"input #{_i} {str(_args)[:200]}: got {str(_got)[:200]}, expected {str(_want)[:200]}"
"""


def plus_job(task: FunctionTask, code: str) -> Judgement:
    """Differential test on base + plus inputs against the reference (EvalPlus 'plus')."""
    assert task.plus is not None and task.reference is not None
    inputs = task.plus.base_input + task.plus.plus_input
    header = (
        f"_REFERENCE = {task.reference!r}\n"
        f"_ENTRY = {task.entry_point!r}\n_INPUTS = {json.dumps(inputs)!r}\n"
        f"_ATOL = {task.plus.atol!r}\n_MIN_LIMIT = {PLUS_MIN_TIME_LIMIT_S!r}\n"
        f"_FACTOR = {PLUS_TIME_FACTOR!r}\n"
    )
    return Judgement(code, header + _PLUS_RUNNER)
