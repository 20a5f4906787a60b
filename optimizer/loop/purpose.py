"""What the prompt being refined makes the assistant do, as the mutator and reflector are told.

The recipes were written for code generation ("an assistant that writes Python functions from
task descriptions"). Told that while refining a Java -> Python translation prompt, the 1.5B
mutator produced "You are a translator who can take a piece of Python code and translate it
into another programming language" and the loop adopted it as P*. A translation run is
therefore told its own job and direction, shown translation rewrites as its few-shot examples,
and a variant that names the target language as the source is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

from ..tasks import Task, TranslationTask
from ..tasks.translation import NAMES


class Purpose(BaseModel):
    assistant: str  # completes "an assistant that ..."
    information: str  # the paper recipe's sentences about the job
    shots: list[tuple[str, str]]  # the robust recipe's few-shot rewrites (before, after)
    source: str | None = None  # translation: the language translated from

    def misstates(self, candidate: str) -> str | None:
        """Why a variant describes another job, or None. Only a translation has a direction
        a variant can reverse: it must not present the target language as the source."""
        if self.source is None:
            return None
        target = next(name for name in NAMES.values() if name != self.source)
        verb = r"(?:translate|translating|convert|converting|port|porting)"
        reversed_ = (  # "translate (a piece of) Python ...", "Python code and translate it"
            rf"\b(?:from|{verb})\s+(?:(?:a|an|the|this|that|any|given|piece of|some)\s+)*{target}\b"
            rf"|\b{target}\s+(?:code|program|source)s?\s+(?:and|then)\s+{verb}\s+(?:it|them)\b"
        )
        if re.search(reversed_, candidate, re.IGNORECASE):
            return f"wrong direction (treats {target} as the source)"
        return None


GENERATION = Purpose(
    assistant="writes Python functions from task descriptions",
    information=(
        "Suppose I need to generate a Python program based on natural language descriptions.\n"
        "The generated Python program should be able to complete the tasks described in natural "
        "language and pass any test cases specific to those tasks.\n"
    ),
    shots=[
        (
            "You are a helpful assistant. Write Python code for the task.",
            "You are an expert Python programmer. Read the task description carefully, note the exact "
            "function name, parameters and return type it asks for, and write one complete, correct "
            "function. Handle edge cases such as empty inputs. Return only the code in a single "
            "```python block, with any imports it needs.",
        ),
        (
            "Solve the coding problem in Python.",
            "You write Python that must pass unit tests. First restate to yourself what the function "
            "must return for normal and edge-case inputs, then implement it exactly as specified, "
            "keeping the given signature. Do not print or read input; do not add example usage. "
            "Answer with the finished code in one ```python block.",
        ),
    ],
)


def translation(source: str, target: str) -> Purpose:
    """`source`, `target`: task languages ("java", "python")."""
    s, t = NAMES[source], NAMES[target]
    return Purpose(
        assistant=f"translates {s} code into {t}",
        source=s,
        information=(
            f"Suppose I need to translate {s} programs into {t}.\n"
            f"The translated {t} program should behave exactly like the original {s} program and "
            "pass any test cases specific to those tasks.\n"
        ),
        shots=[
            (
                f"You are a helpful assistant. Translate the code into {t}.",
                f"You are an expert {s} and {t} programmer. Read the {s} code carefully and note "
                f"what it returns for normal and edge-case inputs, then write the {t} code with the "
                "exact name and signature asked for, keeping its behaviour: arithmetic, string "
                f"handling and collections must act as in the original. Return only the {t} code in "
                f"a single ```{target} block, with any imports it needs.",
            ),
            (
                f"Convert this program to {t}.",
                f"You translate {s} into {t} code that must pass unit tests. First work out what "
                f"the {s} code computes, including its edge cases, then write idiomatic {t} that "
                "computes exactly the same, keeping the requested signature. Do not print or read "
                f"input; do not add example usage. Answer with the finished code in one ```{target} "
                "block.",
            ),
        ],
    )


def purpose_of(tasks: Iterable[Task]) -> Purpose:
    """The job the training tasks ask for: a translation when every task is one, in one
    direction; code generation otherwise."""
    directions = {
        (t.source_language, t.target_language) if isinstance(t, TranslationTask) else None for t in tasks
    }
    if len(directions) == 1:
        (direction,) = directions
        if direction is not None:
            return translation(*direction)
    return GENERATION
