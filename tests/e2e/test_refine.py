"""The Prochemy loop against the stub server: selection, stopping, elitism, dedup,
budget, resume, the seed guard, and LLM-made task validation (real sandbox)."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from prochemy.optimizer.config import Endpoint, Settings
from prochemy.optimizer.judging import Judges
from prochemy.optimizer.llm.gateway import LLMGateway
from prochemy.optimizer.loop.evaluation import Evaluator, OutcomeStore
from prochemy.optimizer.loop.mutation import ROBUST_SYSTEM
from prochemy.optimizer.loop.plot import plot
from prochemy.optimizer.loop.refine import (
    IterationRecord,
    Progress,
    RacedVariant,
    RefineConfig,
    Refiner,
    RefineResult,
    _converged,
    select_best,
)
from prochemy.optimizer.loop.reflection import REFLECT_SYSTEM
from prochemy.optimizer.loop.report import render
from prochemy.optimizer.loop.runs import RunStore
from prochemy.optimizer.loop.screening import screen
from prochemy.optimizer.prompts import PromptSpec
from prochemy.optimizer.tasks import FunctionTask, ScreenReport, TaskSet, TaskSuite
from prochemy.optimizer.tasks.datasets import load_humaneval
from prochemy.optimizer.tasks.examples import benchmark_bank, with_examples
from prochemy.optimizer.tasks.synthesis import SYSTEM as SYNTH_SYSTEM
from prochemy.optimizer.tasks.synthesis import synthesize, validate
from prochemy.sandbox import Sandbox
from prochemy.sandbox.models import SandboxSettings

from ..stub_llm import StubLLM

SEED = "You write Python code."
HUMANEVAL = load_humaneval()
BY_STATEMENT = {t.statement: t for t in HUMANEVAL}
TRAIN = TaskSet(name="train", tasks=HUMANEVAL[:4])
HELD = TaskSet(name="held", tasks=HUMANEVAL[4:8])
NONE = TaskSet(name="none", tasks=[])


def loop_config(**options) -> RefineConfig:
    """The paper's selection, without the significance gate: a stub's few training tasks
    cannot clear it, and these tests are about the loop's mechanics."""
    return RefineConfig(accept_p=None, **options)


def make_responder(mutations: Callable[[int], str], skilled: Callable[[str], bool], reach: int | None = None):
    """Task answers are right when `skilled(system prompt)` (then for tasks below `reach`
    only, if given), else right for even tasks only."""
    counter = itertools.count()

    def respond(messages: list[dict]) -> str:
        system = messages[0]["content"]
        if system == ROBUST_SYSTEM:
            return json.dumps({"prompt": mutations(next(counter))})
        task = BY_STATEMENT[messages[-1]["content"]]
        index = int(task.id.split("/")[1])
        if (skilled(system) and (reach is None or index < reach)) or index % 2 == 0:
            return f"```python\n{task.reference}\n```"
        return f"```python\ndef {task.entry_point}(*args):\n    return None\n```"

    return respond


def varied(i: int) -> str:
    extra = "Consider edge cases carefully." if i % 3 == 1 else f"Be precise, style {i}."
    return f"You are an expert Python programmer writing one correct function. {extra}"


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Callable]:
    made: list = []

    async def build(responder, config: RefineConfig, cache: Path | None = None, stub: StubLLM | None = None):
        stub = stub or StubLLM(responder=responder).start()
        settings = Settings(
            endpoint=Endpoint(base_url=stub.url, model="stub-model"),
            cache_dir=cache or tmp_path / "cache",
            retries=0,
        )
        gateway = LLMGateway(settings)
        sandbox = await Sandbox(SandboxSettings(timeout_s=5)).start()
        store = OutcomeStore(settings.cache_dir / "outcomes")
        made.append((stub, gateway, sandbox, store))
        return (
            stub,
            Refiner(gateway, Evaluator(gateway, Judges(function=sandbox), store), config),
            gateway,
            sandbox,
        )

    yield build
    for _stub, gateway, sandbox, store in made:
        store.close()
        await gateway.aclose()
        await sandbox.close()
    for stub in {id(m[0]): m[0] for m in made}.values():
        stub.stop()


async def test_finds_a_better_prompt_and_adopts_it(parts, tmp_path: Path) -> None:
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: "edge" in s), loop_config(n=4, k_max=4, patience=2)
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    assert "edge" in result.best_prompt
    assert result.iterations[0].best_plain == 1.0  # a skilled variant appears in iteration 1
    assert result.held_out_comparison is not None
    assert (result.held_out_comparison.seed_passed, result.held_out_comparison.best_passed) == (2, 4)
    assert sorted(result.held_out_comparison.only_best) == ["HumanEval/5", "HumanEval/7"]
    assert result.adopted == "refined" and result.adopted_prompt == result.best_prompt
    assert result.stop_reason == "patience" and len(result.iterations) == 2  # 100% twice
    text = render(result)
    assert "training pass@1: seed 50.0%, P* 100.0% (4 tasks)" in text
    assert "P* adopted" in text and "+2" in text and "+You are an expert" in text.replace("+ ", "+")
    png = plot(result, tmp_path / "run.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stored = RunStore(tmp_path / "runs")
    stored.save(result)
    assert stored.load(result.run_id[:6]).best_prompt == result.best_prompt


async def test_survivors_are_never_re_evaluated(parts) -> None:
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: False), loop_config(n=3, k_max=3, patience=5)
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=NONE))
    task_requests = [r for r in stub.completions if r["body"]["messages"][0]["content"] != ROBUST_SYSTEM]
    pairs = [
        (r["body"]["messages"][0]["content"], r["body"]["messages"][-1]["content"]) for r in task_requests
    ]
    assert len(pairs) == len(set(pairs))  # no (prompt, task) pair is asked twice
    distinct_prompts = {p for it in result.iterations for p in it.prompts}
    assert len(pairs) == len(distinct_prompts) * len(TRAIN.tasks)


async def test_the_reference_loop_pays_every_evaluation_and_finds_the_same_prompt(parts, tmp_path) -> None:
    config = loop_config(n=4, k_max=3, patience=5)
    answer = make_responder(varied, lambda s: "edge" in s)

    def responder(messages: list[dict]) -> str:  # prose after the code, which a cut never pays
        text = answer(messages)
        return (
            text if messages[0]["content"] == ROBUST_SYSTEM else text + "\n\nIt returns the result as asked."
        )

    stub, refiner, gateway, _ = await parts(responder, config)
    optimised = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    before = len(stub.completions)
    # same cache: the mutation answers replay, task answers are paid again
    _, reference, ref_gateway, _ = await parts(
        responder, config.model_copy(update={"reference": True}), stub=stub
    )
    result = await reference.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    asked = stub.completions[before:]
    assert not [r for r in asked if r["body"]["messages"][0]["content"] == ROBUST_SYSTEM]
    # the optimised loop's answers stop at the code's end; the reference loop's run to the end
    cut, whole = gateway.ledger["task"], ref_gateway.ledger["task"]
    assert cut.calls and whole.calls
    assert whole.completion_tokens / whole.calls - cut.completion_tokens / cut.calls >= 6  # the prose
    pool_sizes = [len(it.prompts) for it in result.iterations]
    held = 2 * len(HELD.tasks)
    assert len(asked) == sum(pool_sizes) * len(TRAIN.tasks) + held  # survivors asked again
    assert ref_gateway.ledger["task"].cache_hits == 0
    assert (result.best_prompt, result.adopted) == (optimised.best_prompt, optimised.adopted)
    assert [it.outcomes for it in result.iterations] == [it.outcomes for it in optimised.iterations]
    # resumed in another session (--resume): nothing is paid, and the tokens the leg
    # generated are still known, as replayed
    before = len(stub.completions)
    _, resumed, resumed_gateway, _ = await parts(
        responder, config.model_copy(update={"reference": True}), stub=stub
    )
    resumed_gateway.replay_fresh = True
    again = await resumed.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    task = resumed_gateway.ledger["task"]
    assert len(stub.completions) == before and task.calls == 0
    assert task.replayed_completion_tokens == whole.completion_tokens
    assert again.best_prompt == result.best_prompt


async def test_stops_when_the_best_does_not_move(parts) -> None:
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: False), loop_config(n=3, k_max=10, patience=3)
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=NONE))
    # every prompt solves the same tasks: patience stops it, and the report says why
    assert result.stop_reason == "no-signal" and len(result.iterations) == 3
    assert result.adopted == "seed"  # nothing beat the seed, so it stays


def test_the_top_score_is_the_best_so_far() -> None:
    assert not _converged([0.6, 0.6], 3)
    assert _converged([0.6, 0.6, 0.6], 3)
    assert _converged([0.6, 0.6, 0.5], 3)  # a worse top prompt this iteration is no change
    assert not _converged([0.6, 0.6, 0.65], 3)
    assert not _converged([0.6, 0.65, 0.65], 3)
    assert _converged([0.5, 0.65, 0.6, 0.65], 3)


def _record(k: int, prompts: list[str], plain: list[float], selected: list[int]) -> IterationRecord:
    return IterationRecord(
        k=k,
        prompts=prompts,
        parents=[None] * len(prompts),
        outcomes=[],
        weighted=[0.0] * len(prompts),
        plain=plain,
        selected=selected,
        best_plain=max(plain[i] for i in selected),
        variants_attempted=0,
        variants_valid=0,
        rejections={},
        usage={},
        wall_s=0.0,
    )


def test_p_star_is_the_best_selected_prompt_of_any_iteration() -> None:
    first = _record(1, ["seed", "a", "b"], [0.5, 0.6, 0.55], [1, 2])
    second = _record(2, ["a", "b", "c"], [0.6, 0.55, 0.5], [2])  # weights chose c, which solves less
    assert select_best([first, second], "seed") == "a"
    third = _record(3, ["c", "d", "e"], [0.5, 0.6, 0.6], [1, 2])
    assert select_best([first, second, third], "seed") == "d"  # tie: the latest, then the oldest
    assert select_best([], "seed") == "seed"


def test_runners_up_cover_the_adopted_prompts_training_failures_first() -> None:
    train = ["t1", "t2", "t3", "t4"]
    first = _record(1, ["seed", "a", "b", "c"], [0.25, 0.5, 0.75, 0.5], [2])
    first.outcomes = [
        [True, False, False, False],  # seed
        [True, True, False, False],  # a: solves t2
        [True, True, True, False],  # b: t2, t3 (the best: adopted below)
        [False, False, False, True],  # c: t4, the one failure of b's that nobody else solves
    ]
    raced = RacedVariant(prompt="d", parent=0, operator="recipe", seen={"t4": True, "t2": True})
    first.raced = [raced]
    result = RefineResult.model_construct(
        seed_prompt="seed", adopted_prompt="b", train=train, iterations=[first]
    )
    # d covers t4 (b's only failure) and has the best rate; c covers it too; a covers nothing
    # of b's failures; the seed and the adopted prompt are never runners-up
    assert result.runners_up(5) == ["d", "c", "a"]
    assert result.runners_up(1) == ["d"]
    assert (
        RefineResult.model_construct(
            seed_prompt="seed", adopted_prompt="seed", train=train, iterations=[]
        ).runners_up(3)
        == []
    )


async def test_elitism_keeps_all_tied_top_prompts(parts) -> None:
    stub, refiner, _, _ = await parts(make_responder(varied, lambda s: False), loop_config(n=3, k_max=1))
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=NONE))
    it = result.iterations[0]
    assert it.selected == [0, 1, 2]  # all solve the same tasks: all tied, all kept


async def test_identical_variants_are_deduplicated(parts) -> None:
    stub, refiner, _, _ = await parts(
        make_responder(lambda i: "You are a careful Python programmer. Write the function.", lambda s: False),
        loop_config(n=4, k_max=1, mutation_attempts=2),
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=NONE))
    it = result.iterations[0]
    assert it.variants_valid == 1 and len(it.prompts) == 2
    assert it.rejections.get("duplicate", 0) >= 2


async def test_task_specific_and_off_topic_variants_are_rejected(parts) -> None:
    texts = [
        "Always call has_close_elements with sorted numbers when writing the code.",
        "You are a friendly poet. Answer with a rhyme about the sea and the sky.",
        "You are an expert Python programmer. Write one correct function.",
    ]
    stub, refiner, _, _ = await parts(
        make_responder(lambda i: texts[i % 3], lambda s: False),
        loop_config(n=2, k_max=1, mutation_attempts=3),
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=NONE))
    it = result.iterations[0]
    assert it.prompts[1] == texts[2]
    assert it.rejections == {"task-specific": 1, "off-topic": 1}


async def test_budget_stops_cleanly_with_the_best_so_far(parts) -> None:
    stub, refiner, gateway, _ = await parts(
        make_responder(varied, lambda s: "edge" in s), loop_config(n=4, k_max=5, patience=5, max_calls=25)
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    assert result.stop_reason == "budget"
    assert len(result.iterations) >= 1 and "edge" in result.best_prompt
    # the budget covers every paid call: no held-out check is left to pay for, so no adoption
    assert result.held_out_comparison is None and result.adopted == "seed"
    assert len(stub.completions) <= 25 + gateway.settings.concurrency


async def test_a_budget_of_zero_pays_for_nothing(parts) -> None:
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: "edge" in s), loop_config(n=4, k_max=5, patience=5, max_calls=0)
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    assert len(stub.completions) == 0
    assert result.stop_reason == "budget" and result.adopted == "seed"


async def test_resume_after_a_kill_repeats_no_call(parts, tmp_path: Path) -> None:
    config = loop_config(n=3, k_max=3, patience=5)
    responder = make_responder(varied, lambda s: False)
    stub1, refiner1, _, _ = await parts(responder, config, tmp_path / "shared")

    def kill(p: Progress) -> None:
        if p.k == 3 and p.message == "evaluating":
            raise KeyboardInterrupt  # dies mid-iteration 3, after its mutations were paid

    refiner1.report = kill
    with pytest.raises(KeyboardInterrupt):
        await refiner1.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    first = list(stub1.completions)
    _, refiner2, _, _ = await parts(responder, config, tmp_path / "shared", stub=stub1)
    result = await refiner2.run(
        SEED, TaskSuite(train=TRAIN, held_out=HELD)
    )  # "started again with the same arguments"
    second = stub1.completions[len(first) :]

    def is_mutation(request: dict) -> bool:
        return request["body"]["messages"][0]["content"] == ROBUST_SYSTEM

    evaluations = [json.dumps(r["body"], sort_keys=True) for r in first + second if not is_mutation(r)]
    assert len(evaluations) == len(set(evaluations))  # no evaluation is paid twice
    assert any(is_mutation(r) for r in first)
    assert not any(is_mutation(r) for r in second)  # all mutations were replayed from the cache
    assert len(result.iterations) == 3


def _task(statement: str, entry: str, reference: str, tests: str) -> FunctionTask:
    return FunctionTask(
        id="s", statement=statement, entry_point=entry, test=tests, reference=reference, origin="synthetic"
    )


async def test_synthetic_task_validation() -> None:
    good = _task(
        "Return the square of x.",
        "square",
        "def square(x):\n    return x * x\n",
        "assert square(3) == 9\nassert square(-2) == 4\n",
    )
    broken = _task(
        "Return the cube of x.", "cube", "def cube(x):\n    return x * x\n", "assert cube(2) == 8\n"
    )
    vacuous = _task(
        "Return the double of x.", "double", "def double(x):\n    return 2 * x\n", "double(2)\nassert True\n"
    )
    duplicate = _task(
        "Return the square of the number x.",
        "square_it",
        "def square_it(x):\n    return x * x\n",
        "assert square_it(3) == 9\n",
    )
    async with Sandbox(SandboxSettings(timeout_s=5)) as sandbox:
        assert await validate(sandbox, good, []) is None
        assert (await validate(sandbox, broken, [])).startswith("reference fails")
        assert (await validate(sandbox, vacuous, [])).startswith("vacuous")
        assert (await validate(sandbox, duplicate, [good])).startswith("near-duplicate")


async def test_synthesize_counts_kept_and_rejected(tmp_path: Path) -> None:
    replies = itertools.cycle(
        [
            json.dumps(
                {
                    "statement": "Return the sum of the digits of n.\n",
                    "entry_point": "digit_sum",
                    "reference": "def digit_sum(n):\n    return sum(int(c) for c in str(abs(n)))",
                    "tests": "assert digit_sum(123) == 6\nassert digit_sum(-45) == 9",
                }
            ),
            "I cannot help with that.",
            json.dumps(
                {
                    "statement": "Return n reversed as an integer.\n",
                    "entry_point": "rev",
                    "reference": "def rev(n):\n    return n",
                    "tests": "assert rev(12) == 21",
                }
            ),
        ]
    )
    stub = StubLLM(responder=lambda m: next(replies) if m[0]["content"] == SYNTH_SYSTEM else "").start()
    gateway = LLMGateway(
        Settings(endpoint=Endpoint(base_url=stub.url, model="stub-model"), cache_dir=tmp_path, retries=0)
    )
    try:
        async with Sandbox(SandboxSettings(timeout_s=5)) as sandbox:
            kept, report = await synthesize(gateway, sandbox, HUMANEVAL[:5], HUMANEVAL[:5], count=2, seed=1)
    finally:
        await gateway.aclose()
        stub.stop()
    assert [t.entry_point for t in kept] == ["digit_sum"]
    assert report.generated == 6 and report.kept == 1
    assert report.rejected == {"unparseable": 2, "reference fails its own tests": 2, "near-duplicate": 1}


@pytest.mark.parametrize("serial", [True, False])
async def test_serial_mode_never_batches(tmp_path: Path, serial: bool) -> None:
    def slow(messages: list[dict]) -> str:
        time.sleep(0.05)
        return f"```python\n{BY_STATEMENT[messages[-1]['content']].reference}\n```"

    stub = StubLLM(responder=slow).start()
    gateway = LLMGateway(
        Settings(endpoint=Endpoint(base_url=stub.url, model="stub-model"), cache_dir=tmp_path, retries=0)
    )
    store = OutcomeStore(tmp_path / "outcomes")
    try:
        async with Sandbox(SandboxSettings(timeout_s=5)) as sandbox:
            cells = await Evaluator(gateway, Judges(function=sandbox), store, serial=serial).matrix(
                [SEED], HUMANEVAL[:6]
            )
    finally:
        store.close()
        await gateway.aclose()
        stub.stop()
    assert all(c.passed for c in cells[0])
    assert (stub.max_in_flight == 1) is serial


async def test_plus_tasks_need_the_plus_inputs_too(tmp_path: Path) -> None:
    from prochemy.optimizer.tasks.datasets import load_humaneval_plus

    task = next(t for t in load_humaneval_plus() if t.id == "HumanEval/2")
    overfit = (
        "def truncate_number(number):\n    return {3.5: 0.5, 1.33: 0.33, 123.456: 0.456}.get(number, 0.0)\n"
    )
    stub = StubLLM(responder=lambda m: overfit).start()
    gateway = LLMGateway(
        Settings(endpoint=Endpoint(base_url=stub.url, model="stub-model"), cache_dir=tmp_path, retries=0)
    )
    store = OutcomeStore(tmp_path / "outcomes")
    try:
        async with Sandbox(SandboxSettings(timeout_s=5)) as sandbox:
            outcome = await Evaluator(gateway, Judges(function=sandbox), store).outcome(SEED, task)
    finally:
        store.close()
        await gateway.aclose()
        stub.stop()
    assert outcome.base_passed and not outcome.passed and outcome.outcome == "failed"


def reflecting_responder(rewrite: Callable[[str], str], skilled: Callable[[str], bool]):
    """Like make_responder, and a reflection's answer is `rewrite(its user message)`."""
    plain = make_responder(varied, skilled)

    def respond(messages: list[dict]) -> str:
        if messages[0]["content"] == REFLECT_SYSTEM:
            return json.dumps({"prompt": rewrite(messages[-1]["content"])})
        return plain(messages)

    return respond


async def test_reflection_shows_failing_cases_and_its_variant_wins(parts) -> None:
    seen: list[str] = []

    def rewrite(user: str) -> str:
        seen.append(user)
        return "You write Python functions. Check edge cases against the task before answering."

    stub, refiner, _, _ = await parts(
        reflecting_responder(rewrite, lambda s: "edge" in s),
        loop_config(n=3, k_max=2, patience=5, reflect=1.0, reflect_cases=2),
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    first = seen[0]
    assert first.startswith(f"Current prompt: [{SEED}]")
    assert first.count("### Case") == 2  # the seed fails the 2 odd tasks, both shown
    assert "wrong value" in first and "return None" in first and "assert" in first
    it = result.iterations[0]
    assert it.operators[0] is None and "reflect" in it.operators[1:]
    assert "edge" in result.best_prompt and result.made_by(result.best_prompt) == ("reflect", 1)
    text = render(result)
    assert "P* was made by reflective mutation in iteration 1" in text
    assert "seed on the training tasks: 2 failing: wrong value 2" in text
    assert "paired: sign test p = 0.500" in text  # +2 of 4 held out: no evidence either way


def _quote_a_test_value(user: str) -> str:
    """The first failing assertion's first quoted literal, as a rule would not."""
    literal = next(m for m in re.findall(r"'[^'\n]{2,}'|\b\d{2,}\b", user.split("Test result:")[1]))
    return f"You write Python code. Remember the answer {literal} and handle edge cases."


def _restate_the_task(user: str) -> str:
    """The first case's own prose, as the 0.5B reflector answered ("find the sum of all prime
    divisors of a given number"): a task's statement rather than a rule."""
    shown = user.split("Task:\n")[1].split("Code written:")[0]
    prose = (ln.strip(' "') for ln in shown.splitlines() if not re.search(r"\bdef |import |>>>", ln))
    return "You write Python code. " + next(ln for ln in prose if len(re.findall(r"[a-z]+", ln)) >= 8)


@pytest.mark.parametrize("fit", [_quote_a_test_value, _restate_the_task])
async def test_a_reflection_fitted_to_its_cases_is_rejected(parts, fit: Callable[[str], str]) -> None:
    written: list[str] = []

    def rewrite(user: str) -> str:
        written.append(fit(user))
        return written[-1]

    stub, refiner, _, _ = await parts(
        reflecting_responder(rewrite, lambda s: False),
        loop_config(n=2, k_max=1, reflect=1.0, mutation_attempts=2),
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=NONE))
    assert written  # the stub did answer so
    it = result.iterations[0]
    assert it.variants_valid == 0
    assert it.rejections.get("task-specific", 0) >= 1


async def test_a_full_pool_of_tied_prompts_still_gets_new_variants(parts) -> None:
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: False), loop_config(n=3, k_max=2, patience=5)
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=NONE))
    first, second = result.iterations
    assert first.selected == [0, 1, 2]  # all tied: all survive selection
    assert second.variants_valid == 2 and second.prompts[0] == SEED  # the older half stays


def test_significance_gate_keeps_the_seed_against_a_chance_winner() -> None:
    seed_row = [True, False, False, False, True, False, False, False, True, False]
    lucky = [True, True, False, False, True, False, False, False, True, False]  # +1 task
    strong = [True, True, True, True, True, True, True, False, True, False]  # +5, no loss
    first = _record(1, ["seed", "lucky"], [0.3, 0.4], [1])
    first.outcomes = [seed_row, lucky]
    assert select_best([first], "seed") == "lucky"  # the paper's rule: best pass@1 wins
    assert select_best([first], "seed", level=0.05) == "seed"  # p = 1.0
    second = _record(2, ["lucky", "strong"], [0.4, 0.8], [1])
    second.outcomes = [lucky, strong]
    assert select_best([first, second], "seed", level=0.1) == "strong"  # 5-0: p = 0.0625
    assert select_best([first, second], "seed", level=0.05) == "seed"


def test_the_gate_is_on_by_default_and_off_for_the_papers_settings() -> None:
    assert RefineConfig().accept_p == 0.1
    assert RefineConfig(recipe="paper").accept_p is None  # the faithful baseline
    assert RefineConfig(reference=True).accept_p is None
    assert RefineConfig(recipe="paper", accept_p=0.2).accept_p == 0.2  # a given level stands


def test_the_gate_is_shared_by_the_variants_a_run_compares() -> None:
    """Tested one by one at 0.1, one of 15 variants cleared the gate by luck (5 won, 0 lost,
    p 0.06) and lost 5 held-out tasks: the level is the run's, split over its variants."""
    config = RefineConfig(n=6, k_max=3)
    assert config.comparisons == 15 and config.gate_level is not None
    assert abs(1 - (1 - config.gate_level) ** 15 - 0.1) < 1e-9  # the run's chance stays 0.1
    seed_row = [False] * 20 + [True] * 20
    lucky = [True] * 5 + [False] * 15 + [True] * 20  # 5 of the seed's failures fixed, none lost
    first = _record(1, ["seed", "lucky"], [0.5, 0.625], [1])
    first.outcomes = [seed_row, lucky]
    assert select_best([first], "seed", level=0.1) == "lucky"  # p 0.0625, tested alone
    assert select_best([first], "seed", config.gate_level) == "seed"  # it takes 9 such wins
    assert config.gate_words() == "0.007 (0.1 shared by 15 variants)"
    assert RefineConfig(accept_p=1.0).gate_level == 1.0  # any training advantage, as before
    assert RefineConfig(recipe="paper").gate_level is None


async def test_by_default_a_small_training_win_keeps_the_seed_and_says_why(parts) -> None:
    # 10 training tasks, the seed fails the 5 odd ones: 5 wins would clear a gate of 0.4
    # shared by the run's 6 variants (0.082 each, p 0.06)
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: "edge" in s, reach=4),
        RefineConfig(n=4, k_max=2, patience=5, accept_p=0.4),
    )
    train = TaskSet(name="train", tasks=HUMANEVAL[:10])
    result = await refiner.run(SEED, TaskSuite(train=train, held_out=HELD))
    assert result.iterations[0].best_plain == 0.7  # a variant fixed 2 of the seed's 5 failures
    assert result.best_prompt == SEED and result.adopted == "seed"
    assert result.held_out_comparison is not None and result.held_out_comparison.only_best == []
    assert (
        "the seed prompt is kept: no variant beat it clearly on the 10 training tasks: the best "
        "won 2 and lost 0 against it (sign-test p 0.50, above the 0.082 (0.4 shared by 6 "
        "variants) required)"
    ) in render(result)


async def test_no_search_when_no_prompt_could_clear_the_gate(parts) -> None:
    # the seed fails 2 of the 4 training tasks: at best 2 wins, p 0.5 > 0.012 (0.1 over 9)
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: "edge" in s), RefineConfig(n=4, k_max=3, patience=5)
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    assert result.stop_reason == "gate-unreachable" and result.adopted == "seed"
    assert [it.prompts for it in result.iterations] == [[SEED]]
    assert not any(r["body"]["messages"][0]["content"] == ROBUST_SYSTEM for r in stub.completions)
    assert result.train_seed_failures  # the seed's profile is still reported
    c = result.held_out_comparison  # and its held-out score
    assert c is not None and (c.seed_passed, c.best_passed) == (2, 2)
    assert (
        "the seed prompt is kept: the seed fails only 2 of the 4 training tasks, so no prompt could "
        "beat it clearly there (at best 2 wins and no loss: sign-test p 0.50, above the 0.012 "
        "(0.1 shared by 9 variants) required), so no search was run"
    ) in render(result)
    # with a gate that 2 wins can clear (0.9 over 3 variants: 0.54 each), the same run searches
    _, searching, _, _ = await parts(
        make_responder(varied, lambda s: "edge" in s), RefineConfig(n=4, k_max=1, accept_p=0.9)
    )
    searched = await searching.run(SEED, TaskSuite(train=TRAIN, held_out=HELD))
    assert searched.stop_reason == "k_max" and len(searched.iterations[0].prompts) == 4


async def test_no_signal_is_reported_as_such_not_as_convergence(parts) -> None:
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: False), loop_config(n=3, k_max=5, patience=2)
    )
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=NONE))
    assert result.stop_reason == "no-signal"
    assert "no signal: every prompt solved the same 2 of 4 training tasks" in render(result)


async def test_a_structure_variant_that_shows_examples_can_win(parts) -> None:
    bank = benchmark_bank(HUMANEVAL[10:14])
    train = TaskSet(name="train", tasks=with_examples(TRAIN.tasks, bank))
    held = TaskSet(name="held", tasks=with_examples(HELD.tasks, bank))

    def shown_examples(messages: list[dict]) -> bool:
        return any(m["role"] == "assistant" for m in messages)

    plain = make_responder(varied, lambda s: False)

    def respond(messages: list[dict]) -> str:
        if messages[0]["content"] != ROBUST_SYSTEM and shown_examples(messages):
            task = BY_STATEMENT[messages[-1]["content"]]
            return f"```python\n{task.reference}\n```"
        return plain(messages)

    stub, refiner, _, _ = await parts(respond, loop_config(n=3, k_max=2, patience=5, structure=1.0))
    result = await refiner.run(SEED, TaskSuite(train=train, held_out=held))
    assert PromptSpec.parse(result.best_prompt).examples == 1
    assert result.made_by(result.best_prompt) == ("structure", 1)
    assert not any(
        r["body"]["messages"][0]["content"] == ROBUST_SYSTEM for r in stub.completions
    )  # no LLM call
    with_shots = [r for r in stub.completions if shown_examples(r["body"]["messages"])]
    assert with_shots and "[prochemy:" not in with_shots[0]["body"]["messages"][0]["content"]
    assert result.adopted == "refined" and "a change of structure" in render(result)


async def test_racing_drops_a_variant_that_can_no_longer_reach_the_best(parts) -> None:
    hopeless = "You are a Python programmer who never gets anything right."

    def respond(messages: list[dict]) -> str:
        if messages[0]["content"] == ROBUST_SYSTEM:
            return json.dumps({"prompt": hopeless})
        if messages[0]["content"] == hopeless:
            return "```python\ndef nothing():\n    return None\n```"
        return make_responder(varied, lambda s: False)(messages)

    stub, refiner, _, _ = await parts(respond, loop_config(n=2, k_max=1, race_batch=1))
    result = await refiner.run(SEED, TaskSuite(train=TRAIN, held_out=NONE))
    it = result.iterations[0]
    assert it.raced_out == 1 and it.prompts == [SEED]  # the seed passes 2 of 4: 0 + 1 left < 2
    asked = [r for r in stub.completions if r["body"]["messages"][0]["content"] == hopeless]
    assert len(asked) == 3  # the fourth task was never paid for
    # the run record keeps how far it got: the three tasks it was run on, none passed
    (dropped,) = it.raced
    assert dropped.prompt == hopeless and dropped.operator == "recipe" and dropped.parent == 0
    assert dropped.seen == {t.id: False for t in TRAIN.tasks[:3]}
    assert (
        "raced out: 1 variant(s) that could no longer reach the best (the closest passed 0 of the 3"
        in render(result)
    )


async def test_with_the_gate_racing_drops_a_variant_that_could_never_clear_it(parts) -> None:
    # 10 training tasks, the seed fails the 5 odd ones: a variant must win all 5 (p 0.06) to
    # clear 0.2 shared by the run's 2 variants (0.11 each)
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: "edge" in s),
        RefineConfig(n=3, k_max=1, race_batch=2, accept_p=0.2),
    )
    train = TaskSet(name="train", tasks=HUMANEVAL[:10])
    result = await refiner.run(SEED, TaskSuite(train=train, held_out=HELD))
    it = result.iterations[0]
    skilled, plain = varied(1), varied(0)
    assert it.raced_out == 1 and it.prompts == [SEED, skilled]
    asked = {
        prompt: [
            r["body"]["messages"][-1]["content"]
            for r in stub.completions
            if r["body"]["messages"][0]["content"] == prompt
        ]
        for prompt in (skilled, plain)
    }
    # the seed's failures first; after 2 of them, 3 wins at most: p 0.25 > 0.11, so it stops there
    # (reaching the seed's 5 passes alone would have kept it: 0 + 8 left)
    # the batch of 2 is asked concurrently: the stub may see them in either order
    assert sorted(asked[plain]) == sorted([HUMANEVAL[1].statement, HUMANEVAL[3].statement])
    assert [(r.prompt, r.seen) for r in it.raced] == [
        (plain, {HUMANEVAL[1].id: False, HUMANEVAL[3].id: False})
    ]
    assert sorted(asked[skilled][:10]) == sorted(t.statement for t in train.tasks)  # then held out
    assert result.adopted == "refined" and result.best_prompt == skilled
    assert "raced out: 1 variant(s) that could no longer reach the best or clear the gate" in render(result)


async def test_when_racing_drops_every_variant_that_is_signal_and_said(parts) -> None:
    # the seed fails the 5 odd tasks of 10 (all 5 clear 0.5 shared by 10 variants, 0.067
    # each); no variant fixes one: each is dropped early
    stub, refiner, _, _ = await parts(
        make_responder(varied, lambda s: False),
        RefineConfig(n=3, k_max=5, patience=2, race_batch=2, accept_p=0.5),
    )
    result = await refiner.run(
        SEED, TaskSuite(train=TaskSet(name="train", tasks=HUMANEVAL[:10]), held_out=NONE)
    )
    assert result.stop_reason == "patience"  # not "no-signal": the variants fell behind
    assert [len(it.prompts) for it in result.iterations] == [1, 1]
    assert (
        "no variant beat it clearly on the 10 training tasks: racing dropped all 4 once they could "
        "no longer reach it or clear the 0.067 (0.5 shared by 10 variants) gate against it"
    ) in render(result)


async def test_screening_trains_on_tasks_the_seed_fails_and_passes_and_pays_once(parts) -> None:
    # the seed solves the even-numbered tasks only; 8 candidates, 4 to train on
    config = loop_config(n=3, k_max=1, patience=5, screen=8)
    stub, refiner, _, _ = await parts(make_responder(varied, lambda s: "edge" in s), config)
    candidates = HUMANEVAL[:8]
    chosen, report = await screen(refiner.evaluator, SEED, candidates, 4, seed=0)
    assert report == ScreenReport(candidates=8, seed_failed=4, chosen_failing=2, chosen_passing=2)
    numbers = [int(t.id.split("/")[1]) for t in chosen]
    assert sorted(n % 2 for n in numbers) == [0, 0, 1, 1] and numbers == sorted(numbers)
    # fewer passes than half of k: the rest are failures (and k never exceeds the candidates)
    more, report = await screen(refiner.evaluator, SEED, candidates, 7, seed=0)
    assert (report.chosen_failing, report.chosen_passing, len(more)) == (4, 3, 7)
    everything, _ = await screen(refiner.evaluator, SEED, candidates, 20, seed=0)
    assert everything == candidates
    asked = len(stub.completions)
    assert asked == 8  # the seed once per candidate; the second and third screens were free
    result = await refiner.run(
        SEED, TaskSuite(train=TaskSet(name="screened", tasks=chosen), held_out=NONE, screening=report)
    )
    seed_asks = [r for r in stub.completions[asked:] if r["body"]["messages"][0]["content"] == SEED]
    assert seed_asks == []  # the loop reuses the seed's screened outcomes
    assert result.screening == report
    assert "real training tasks screened by the seed: 4 it fails and 3 it passes, of 8" in render(result)
