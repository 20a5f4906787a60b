"""The GEPA peer's adapter (benchmarks/gepa_peer.py) drives the real `gepa` library through
this project's gateway and sandbox: the stub server answers tasks and reflections."""

from __future__ import annotations

import asyncio
from pathlib import Path

import gepa
from prochemy.optimizer.config import Endpoint, Settings
from prochemy.optimizer.judging import Judges
from prochemy.optimizer.llm.gateway import LLMGateway
from prochemy.optimizer.loop.evaluation import Evaluator, OutcomeStore
from prochemy.optimizer.tasks.datasets import load_humaneval
from prochemy.sandbox import Sandbox
from prochemy.sandbox.models import SandboxSettings

from benchmarks.gepa_peer import COMPONENT, Bridge, ProchemyAdapter, reflection_model

from ..stub_llm import StubLLM

SEED = "You write Python code."
TASKS = load_humaneval()[:4]
BY_STATEMENT = {t.statement: t for t in TASKS}
BETTER = "You write Python code. Think about edge cases before you answer."


def respond(messages: list[dict]) -> str:
    if messages[0]["role"] == "user":  # GEPA's reflection prompt: one user message
        return f"```\n{BETTER}\n```"
    task = BY_STATEMENT[messages[-1]["content"]]
    if "edge" in messages[0]["content"] or int(task.id.split("/")[1]) % 2 == 0:
        return f"```python\n{task.reference}\n```"
    return f"```python\ndef {task.entry_point}(*args):\n    return None\n```"


async def test_gepa_finds_the_better_prompt_through_our_evaluator(tmp_path: Path) -> None:
    stub = StubLLM(responder=respond).start()
    settings = Settings(
        endpoint=Endpoint(base_url=stub.url, model="stub-model"), cache_dir=tmp_path / "cache", retries=0
    )
    gateway = LLMGateway(settings)
    sandbox = await Sandbox(SandboxSettings(timeout_s=5)).start()
    store = OutcomeStore(tmp_path / "outcomes")
    try:
        bridge = Bridge(asyncio.get_running_loop())
        adapter = ProchemyAdapter(bridge, Evaluator(gateway, Judges(function=sandbox), store))
        result = await asyncio.to_thread(
            gepa.optimize,
            seed_candidate={COMPONENT: SEED},
            trainset=TASKS,
            valset=TASKS,
            adapter=adapter,
            reflection_lm=reflection_model(bridge, gateway, seed=0),
            max_metric_calls=24,
            reflection_minibatch_size=2,
            seed=0,
        )
    finally:
        store.close()
        await gateway.aclose()
        await sandbox.close()
        stub.stop()
    best = result.best_candidate
    assert isinstance(best, dict) and best[COMPONENT] == BETTER
    reflections = [r for r in stub.completions if r["body"]["messages"][0]["role"] == "user"]
    assert reflections, "GEPA never asked the reflection model"
    shown = reflections[0]["body"]["messages"][0]["content"]
    # our verdicts reach the reflection: the failure class and the failing assertion
    assert "failed the tests (wrong value)" in shown and "assert" in shown
    assert 0 < adapter.evaluations <= 24 + len(TASKS)  # GEPA's budget, give or take one batch
