"""Code translation tasks from HumanEval-X (the paper's second task).

Java -> Python: the source is HumanEval-X's Java declaration and canonical solution; the
answer is judged exactly like HumanEval+ task N (its tests, helpers and plus inputs).
Python -> Java: the source is HumanEval-X's Python prompt and canonical solution; the answer
(a class Solution with the declared method) is judged by HumanEval-X's Java test for task N,
compiled and run in the sandbox (optimizer/java_harness.py, sandbox/java/Launcher.java).
In each direction the 164 tasks are split once, by a fixed seed, into a training pool of 40 and 124 held-out
tasks that refinement never sees (`translation_split`).
"""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path
from typing import Literal

from prochemy.sandbox.pyparse import parse_python

from .datasets import _read_jsonl_gz, load_humaneval_plus, shared_data_dir
from .model import Language, TranslationTask

Direction = Literal["java-python", "python-java"]
DIRECTIONS: tuple[Direction, ...] = ("java-python", "python-java")
BENCHMARKS: dict[str, Direction] = {f"translate-{d}": d for d in DIRECTIONS}  # the CLI's names
POOL = 40  # training pool; the other 124 are held out
SPLIT_SEED = 2503  # fixed: the same split for every run and model

# In the style of the paper's generation seed S(0).
TRANSLATION_SEED_PROMPT = (
    "You are a code translation assistant. Your task is to translate the given code into the "
    "target language, keeping its behaviour, and complete the work described in the task."
)


def _python_signature(stub: str, entry_point: str) -> str:
    for node in parse_python(stub).body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            node.body = [ast.Expr(ast.Constant(...))]
            return ast.unparse(node).splitlines()[0].removesuffix(":").removeprefix("def ")
    return f"{entry_point}(...)"


NAMES = {"java": "Java", "python": "Python"}
SUFFIXES: dict[str, Language] = {".java": "java", ".py": "python"}


def translation_statement(
    source: str, source_language: Language, target_language: Language, target: str
) -> str:
    """The request the model sees; `target` says what to write (e.g. a signature)."""
    return (
        f"Translate this {NAMES[source_language]} code to {NAMES[target_language]}.\n\n"
        f"```{source_language}\n{source.strip()}\n```\n\n{target}"
    )


def text_translation(
    source: str, source_language: Language, target_language: Language, name: str
) -> TranslationTask:
    """A translation of a file or a selection, with no tests to judge it."""
    if source_language == target_language:
        raise ValueError(f"{name} is already {NAMES[target_language]}")
    return TranslationTask(
        id=f"text:{name}",
        statement=translation_statement(
            source,
            source_language,
            target_language,
            f"Write the whole code in {NAMES[target_language]} with the same behaviour.",
        ),
        entry_point="",
        source_language=source_language,
        target_language=target_language,
        source_code=source,
        test="",
    )


def language_of(path: Path) -> Language:
    language = SUFFIXES.get(path.suffix)
    if language is None:
        raise ValueError(f"{path.name}: cannot tell its language (known: {', '.join(SUFFIXES)})")
    return language


def file_translation(path: Path, target_language: Language) -> TranslationTask:
    """A translation of a whole source file (`prochemy translate FILE`)."""
    return text_translation(path.read_text(), language_of(path), target_language, path.name)


def translation_path(source: Path, target_language: Language) -> Path:
    """Where a translation of `source` goes: beside it, under a name no file has yet."""
    suffix = next(s for s, lang in SUFFIXES.items() if lang == target_language)
    stem = source.stem
    candidate = source.with_name(f"{stem}{suffix}")
    n = 1
    while candidate.exists():
        candidate = source.with_name(f"{stem}_translated{'' if n == 1 else f'_{n}'}{suffix}")
        n += 1
    return candidate


def humaneval_x(language: str) -> dict[int, dict]:
    rows = _read_jsonl_gz(shared_data_dir() / "humaneval-x" / f"humaneval_{language}.jsonl.gz")
    return {int(row["task_id"].split("/")[1]): row for row in rows}


def _java_signatures(declaration: str) -> str:
    """The declaration's public methods, as the answer must write them."""
    found = [
        line.strip().removesuffix("{").strip()
        for line in declaration.splitlines()
        if line.strip().startswith("public ") and "(" in line
    ]
    return ("the methods " if len(found) > 1 else "the method ") + " and ".join(f"`{f}`" for f in found)


def _python_to_java() -> list[TranslationTask]:
    python, java = humaneval_x("python"), humaneval_x("java")
    tasks = []
    for n in sorted(java):
        source = (python[n]["prompt"] + python[n]["canonical_solution"]).strip()
        declaration = java[n]["prompt"]
        tasks.append(
            TranslationTask(
                id=f"Python-Java/{n}",
                statement=translation_statement(
                    source,
                    "python",
                    "java",
                    f"Write it in Java as `class Solution` with {_java_signatures(declaration)}, "
                    "with the imports it needs, and no main method.",
                ),
                entry_point=re.findall(r"public\s[^(]*?(\w+)\s*\(", declaration)[-1],
                reference=(declaration + java[n]["canonical_solution"]).strip(),
                source_language="python",
                target_language="java",
                source_code=source,
                test=java[n]["test"],
                target_stub=declaration,
            )
        )
    return tasks


def load_translation(direction: Direction) -> list[TranslationTask]:
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown translation direction {direction!r}; known: {', '.join(DIRECTIONS)}")
    if direction == "python-java":
        return _python_to_java()
    java = humaneval_x("java")
    tasks = []
    for py in load_humaneval_plus():
        n = int(py.id.split("/")[1])
        source = (java[n]["prompt"] + java[n]["canonical_solution"]).strip()
        signature = _python_signature(py.statement, py.entry_point)
        tasks.append(
            TranslationTask(
                id=f"Java-Python/{n}",
                statement=translation_statement(
                    source,
                    "java",
                    "python",
                    f"Write it as the Python function `def {signature}` with the same behaviour.",
                ),
                entry_point=py.entry_point,
                reference=py.reference,
                source_language="java",
                target_language="python",
                source_code=source,
                test=py.test,
                plus=py.plus,
                target_stub=py.statement,
            )
        )
    return tasks


def translation_split(tasks: list[TranslationTask]) -> tuple[list[TranslationTask], list[TranslationTask]]:
    """(training pool of 40, 124 held out), by task number, the same for every run."""
    ordered = sorted(tasks, key=lambda t: int(t.id.split("/")[1]))
    shuffled = ordered[:]
    random.Random(SPLIT_SEED).shuffle(shuffled)
    pool = {t.id for t in shuffled[:POOL]}
    return [t for t in ordered if t.id in pool], [t for t in ordered if t.id not in pool]
