"""benchmarks/answers.py: the response cache carried between machines, unchanged."""

from __future__ import annotations

from pathlib import Path

from prochemy.optimizer.llm.gateway import ChatResult, ResponseCache

from benchmarks.answers import export, import_, read_archive


def answer(text: str) -> ChatResult:
    return ChatResult(text=text, prompt_tokens=3, completion_tokens=5, finish_reason="stop", model="m")


def test_answers_go_to_a_new_machine_and_merge(tmp_path: Path) -> None:
    archive = tmp_path / "answers.jsonl.gz"
    first = ResponseCache(tmp_path / "a")
    first.put("k1", answer("one"))
    first.put("k2", answer("two").model_copy(update={"cached": True}))
    assert export(first, archive) == (0, 2)
    blob = archive.read_bytes()
    assert export(first, archive) == (2, 2) and archive.read_bytes() == blob  # no churn

    second = ResponseCache(tmp_path / "b")  # the next machine: imports, adds one, exports
    second.put("k1", answer("kept"))  # an answer already there is not overwritten
    assert import_(second, archive) == 1
    second.put("k3", answer("three"))
    assert export(second, archive) == (2, 3)
    first.close()
    second.close()
    merged = read_archive(archive)
    assert {k: a.text for k, a in merged.items()} == {"k1": "kept", "k2": "two", "k3": "three"}
    assert not merged["k2"].cached
