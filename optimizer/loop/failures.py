"""Why a prompt's code failed a task, in classes a prompt could act on.

The profile of a prompt's failures says where refinement can still win: format rules fix
missing or truncated code and wrong names, but not wrong values (reasoning, examples and
test evidence must). Classification reads only the judge's verdict (outcome and its
one-line detail) plus, where known, the extracted code and whether the answer was cut
at max_tokens, so stored outcomes of earlier runs can be classified too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from enum import Enum

from ..generation import Judged


class Failure(str, Enum):
    NO_CODE = "no-code"  # nothing extracted, a syntax error, or the answer cut at max_tokens
    SIGNATURE = "signature"  # the entry point missing, or called with arguments it does not take
    UNDEFINED = "undefined"  # a name or module the code uses but never defines or imports
    RAISED = "raised"  # any other exception
    WRONG_VALUE = "wrong-value"  # ran, returned, and an assertion disagreed
    TIMEOUT = "timeout"  # too slow, or a resource limit


LABELS = {
    Failure.NO_CODE: "no code / syntax / truncated",
    Failure.SIGNATURE: "wrong name or signature",
    Failure.UNDEFINED: "undefined name or missing import",
    Failure.RAISED: "raised an exception",
    Failure.WRONG_VALUE: "wrong value",
    Failure.TIMEOUT: "timeout or resource limit",
}

_EXCEPTION = re.compile(r"\b([A-Z][A-Za-z0-9_]*(?:Error|Exception|Exit|Interrupt|Warning))\b")
_SIGNATURE_TYPEERROR = re.compile(
    r"(positional argument|keyword argument|takes \d+|takes (no|exactly|at most|from)|"
    r"required (positional|keyword)|arguments? but)"
)


def _first_message(detail: str) -> str:
    """A repository verdict lists failing tests ("2 of 3 tests did not pass: id failed: msg;
    ..."): the first test's message stands for the task."""
    head, sep, rest = detail.partition(" tests did not pass: ")
    if sep:
        match = re.match(r"\S+ (?:failed|error|timeout|not run|skipped|xfailed)(?:: (.*))?", rest)
        return (match.group(1) or "") if match else rest
    head, sep, rest = detail.partition(" failed: ")  # "collecting X failed: msg"
    return rest if sep and head.startswith("collecting ") else detail


def classify(
    outcome: str,
    detail: str,
    code: str | None = None,
    truncated: bool = False,
    entry_point: str | None = None,
) -> Failure | None:
    """The failure class of one verdict; None for a pass. A NameError on the entry point is
    the tests calling a name the code does not provide (a translation that kept the Java
    method's name or wrapped it in a class): a wrong name, not a missing import."""
    if outcome == "passed":
        return None
    if outcome in ("timeout", "resource-limit") or "took longer than" in detail:
        return Failure.TIMEOUT
    if (code is not None and not code.strip()) or truncated:
        return Failure.NO_CODE
    message = _first_message(detail)
    if "does not define" in message:
        return Failure.SIGNATURE
    match = _EXCEPTION.search(message)
    name = match.group(1) if match else ""
    text = message[match.end() :] if match else message
    if name in ("SyntaxError", "IndentationError", "TabError"):
        return Failure.NO_CODE
    if name == "TypeError" and _SIGNATURE_TYPEERROR.search(text):
        return Failure.SIGNATURE
    if name == "NameError" and entry_point and f"name '{entry_point}' is not defined" in text:
        return Failure.SIGNATURE
    if name in ("NameError", "UnboundLocalError", "ModuleNotFoundError", "ImportError") or (
        name == "AttributeError" and "module " in text
    ):
        return Failure.UNDEFINED
    if name in ("", "AssertionError") and outcome == "failed":
        return Failure.WRONG_VALUE
    return Failure.RAISED  # (an AssertionError in an "error" verdict: the code's own assert)


def failure_of(judged: Judged, entry_point: str | None = None) -> Failure | None:
    """The class of a judged answer's deciding verdict, with its code and truncation."""
    verdict = judged.verdict
    return classify(
        verdict.outcome.value,
        verdict.detail,
        judged.generation.code,
        truncated=judged.generation.finish_reason == "length",
        entry_point=entry_point,
    )


def profile(failures: Iterable[Failure | None]) -> dict[str, int]:
    """Counts per class, in the classes' order, passes left out, zero counts kept."""
    counts = Counter(f for f in failures if f is not None)
    return {f.value: counts[f] for f in Failure}


def render_profile(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "no failures"
    shown = [(LABELS[Failure(k)], v) for k, v in counts.items() if v]
    return f"{total} failing: " + ", ".join(f"{label} {v}" for label, v in shown)
