"""Carry the model's answers from one machine to the next: every benchmark machine here
starts empty, and a long experiment (a paper-setting refinement, a 164-task pass) spans
sessions. The response cache holds each answer under a key of everything that shaped it
(model file, endpoint shape, messages, sampling, max_tokens), so answers replayed from it are
the ones the model gave; wall times of a run that replayed answers are not comparable.

    .venv/bin/python benchmarks/answers.py export   # cache -> benchmarks/answers/answers.jsonl.gz (merged)
    .venv/bin/python benchmarks/answers.py import   # benchmarks/answers/answers.jsonl.gz -> cache
    [--cache DIR]   (default: the configured cache_dir)
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.llm.gateway import ChatResult, ResponseCache

ARCHIVE = Path(__file__).resolve().parent / "answers" / "answers.jsonl.gz"


def read_archive(path: Path) -> dict[str, ChatResult]:
    if not path.is_file():
        return {}
    with gzip.open(path, "rt") as f:
        rows = (json.loads(line) for line in f if line.strip())
        return {row["key"]: ChatResult.model_validate(row["answer"]) for row in rows}


def export(cache: ResponseCache, path: Path) -> tuple[int, int]:
    answers = read_archive(path)
    before = len(answers)
    answers.update((key, answer.model_copy(update={"cached": False})) for key, answer in cache.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    # sorted, fixed mtime: the same answers give the same bytes (no churn in git)
    with gzip.GzipFile(partial, "wb", mtime=0) as raw:
        for key in sorted(answers):
            line = {"key": key, "answer": answers[key].model_dump()}
            raw.write((json.dumps(line, sort_keys=True) + "\n").encode())
    partial.replace(path)
    return before, len(answers)


def import_(cache: ResponseCache, path: Path) -> int:
    added = 0
    for key, answer in read_archive(path).items():
        if cache.get(key) is None:
            cache.put(key, answer)
            added += 1
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["export", "import"])
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    args = parser.parse_args()
    cache_dir = args.cache or load_settings().settings.cache_dir
    cache = ResponseCache(cache_dir / "llm")
    try:
        if args.action == "export":
            before, after = export(cache, args.archive)
            print(f"{args.archive}: {before} -> {after} answers")
        else:
            print(f"{import_(cache, args.archive)} answers added to {cache_dir / 'llm'}")
    finally:
        cache.close()


if __name__ == "__main__":
    main()
