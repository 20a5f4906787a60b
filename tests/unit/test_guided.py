"""Test-guided generation (optimizer/guided.py): greedy first, further candidates only when
the tests fail it, checked in order, repeats not run twice, budgets and repair turns."""

from __future__ import annotations

import asyncio

import pytest
from prochemy.optimizer.config import GuidedGeneration, Settings
from prochemy.optimizer.guided import describe_attempt, guided_generate, steady_output
from prochemy.optimizer.llm.gateway import ChatRequest, ChatResult
from prochemy.optimizer.tasks import FunctionTask
from prochemy.sandbox.models import RunOutcome, RunResult

TASK = FunctionTask(id="t/0", statement="def f(x):\n    '''x + 1'''\n", entry_point="f", test="")
RIGHT = "def f(x):\n    return x + 1\n"


def wrong(n: int) -> str:
    return f"def f(x):\n    return x + {n + 2}\n"


class FakeGateway:
    """Answers with `answers(request)`; records every request."""

    def __init__(self, answers, tokens: int = 10, concurrency: int = 4) -> None:
        self.answers = answers
        self.tokens = tokens
        self.requests: list[ChatRequest] = []
        self.settings = Settings(concurrency=concurrency)

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        await asyncio.sleep(0.01 * (5 - request.sample % 5))  # later samples may finish first
        text = f"```python\n{self.answers(request)}```"
        return ChatResult(text=text, prompt_tokens=5, completion_tokens=self.tokens, model="fake")


class Checker:
    """The check: passes RIGHT; counts the runs."""

    def __init__(self, error_for: str | None = None) -> None:
        self.runs: list[str] = []
        self.error_for = error_for

    async def __call__(self, code: str) -> RunResult:
        self.runs.append(code)
        if code == RIGHT:
            return RunResult(outcome=RunOutcome.PASSED)
        if code == self.error_for:
            return RunResult(outcome=RunOutcome.ERROR, detail="NameError: y")
        return RunResult(outcome=RunOutcome.FAILED, detail="assert f(1) == 2")


def plan(**kw) -> GuidedGeneration:
    return GuidedGeneration(**{"parallel": 1, **kw})


async def test_a_greedy_pass_costs_one_generation_and_one_run() -> None:
    gw, tests = FakeGateway(lambda r: RIGHT), Checker()
    got = await guided_generate(gw, "P", TASK, tests, plan())  # type: ignore[arg-type]
    assert [a.how for a in got.attempts] == ["greedy"] and got.passed and got.stop == "passed"
    assert len(gw.requests) == 1 and gw.requests[0].temperature == 0 and len(tests.runs) == 1


async def test_samples_until_one_passes_each_with_its_own_seed() -> None:
    gw, tests = FakeGateway(lambda r: RIGHT if r.sample == 2 else wrong(r.sample)), Checker()
    got = await guided_generate(gw, "P", TASK, tests, plan(temperature=0.7))  # type: ignore[arg-type]
    assert [a.how for a in got.attempts] == ["greedy", "sample", "sample"]
    assert got.passed and got.best.number == 3 and got.best.generation.code == RIGHT
    samples = gw.requests[1:]
    assert [(r.temperature, r.sample, r.seed) for r in samples] == [(0.7, 1, 1), (0.7, 2, 2)]
    assert got.completion_tokens == 30


async def test_in_a_parallel_wave_the_first_pass_in_order_wins_whatever_finishes_first() -> None:
    right_from = {3, 4}  # samples 3 and 4 pass; 4 finishes first
    gw = FakeGateway(lambda r: RIGHT if r.sample in right_from else wrong(r.sample))
    tests = Checker()
    got = await guided_generate(gw, "P", TASK, tests, plan(parallel=4))  # type: ignore[arg-type]
    assert got.best.number == 4 and got.best.generation.code == RIGHT  # sample 3 = attempt 4
    assert len(gw.requests) == 5  # greedy + one wave of 4
    assert len(got.attempts) == 4 and got.completion_tokens == 50  # the unchecked one is counted
    assert tests.runs.count(RIGHT) == 1


async def test_repeated_code_is_not_run_again_and_stops_the_search() -> None:
    gw, tests = FakeGateway(lambda r: wrong(0)), Checker()
    got = await guided_generate(gw, "P", TASK, tests, plan(max_repeats=2))  # type: ignore[arg-type]
    assert [a.repeat_of for a in got.attempts] == [None, 1, 1]
    assert len(tests.runs) == 1 and not got.passed
    assert got.stop == "2 candidates in a row repeated earlier code"
    assert describe_attempt(got.attempts[1], 8) == "candidate 2/8 (sample): the same code as candidate 1"


async def test_the_token_budget_and_the_candidate_count_bound_the_search() -> None:
    gw = FakeGateway(lambda r: wrong(r.sample), tokens=100)
    got = await guided_generate(gw, "P", TASK, Checker(), plan(max_tokens=250))  # type: ignore[arg-type]
    assert len(got.attempts) == 3 and got.stop == "token budget of 250 spent"
    gw = FakeGateway(lambda r: wrong(r.sample))
    got = await guided_generate(gw, "P", TASK, Checker(), plan(candidates=3))  # type: ignore[arg-type]
    assert len(got.attempts) == 3 and got.stop == "3 candidates, none passed"
    got = await guided_generate(gw, "P", TASK, Checker(), plan(candidates=1))  # type: ignore[arg-type]
    assert len(got.attempts) == 1 and "generate.candidates = 1" in got.stop


async def test_without_a_pass_the_least_bad_candidate_is_offered() -> None:
    gw = FakeGateway(lambda r: wrong(r.sample))
    tests = Checker(error_for=wrong(0))  # the greedy answer raises, the samples fail an assert
    got = await guided_generate(gw, "P", TASK, tests, plan(candidates=3))  # type: ignore[arg-type]
    assert not got.passed and got.best.number == 2 and got.best.result.outcome is RunOutcome.FAILED
    assert describe_attempt(got.attempts[0], 3) == "candidate 1/3 (greedy): error: NameError: y"


async def test_repair_shows_the_failing_answer_and_its_test() -> None:
    gw = FakeGateway(lambda r: RIGHT if len(r.messages) > 2 else wrong(0))
    got = await guided_generate(gw, "P", TASK, Checker(), plan(feedback=True))  # type: ignore[arg-type]
    assert [a.how for a in got.attempts] == ["greedy", "repair"] and got.passed
    follow = gw.requests[1].messages[2:]
    assert follow[0]["role"] == "assistant" and wrong(0) in follow[0]["content"]
    assert follow[1]["role"] == "user" and "assert f(1) == 2" in follow[1]["content"]


async def test_repair_without_the_code_shows_only_the_failing_test() -> None:
    gw = FakeGateway(lambda r: RIGHT if len(r.messages) > 2 else wrong(0))
    got = await guided_generate(gw, "P", TASK, Checker(), plan(feedback=True, feedback_code=False))  # type: ignore[arg-type]
    assert [a.how for a in got.attempts] == ["greedy", "repair"] and got.passed
    follow = gw.requests[1].messages[2:]
    assert [m["role"] for m in follow] == ["user"] and "assert f(1) == 2" in follow[0]["content"]
    assert wrong(0) not in follow[0]["content"] and "return x + 2" not in str(gw.requests[1].messages)


async def test_the_same_failure_asks_the_same_repair_whatever_the_run_time() -> None:
    """pytest ends its output with the run's duration; two runs of one failing candidate
    must make the same request (else a resumed benchmark pays for every repair again)."""
    requests = []
    for seconds in ("0.83", "0.51"):
        tail = f"E   assert None == 3\nFAILED t.py::test_f - assert None == 3\n1 failed in {seconds}s\n"

        async def check(code: str, tail: str = tail) -> RunResult:
            if code == RIGHT:
                return RunResult(outcome=RunOutcome.PASSED)
            return RunResult(outcome=RunOutcome.FAILED, detail="assert None == 3", output_tail=tail)

        gw = FakeGateway(lambda r: RIGHT if len(r.messages) > 2 else wrong(0))
        await guided_generate(gw, "P", TASK, check, plan(feedback=True))  # type: ignore[arg-type]
        requests.append(gw.requests[1].messages)
    assert requests[0] == requests[1]
    assert "1 failed\n" in requests[0][-1]["content"] and "FAILED t.py::test_f" in requests[0][-1]["content"]


def test_test_output_is_steady_across_runs_but_keeps_what_the_answer_printed() -> None:
    """Two runs of one failing candidate differ in object addresses and the sandbox's job
    directory too (a resumed toolz run paid for such repairs again); values stay as printed."""

    def run(address: str, job: str) -> str:
        return (
            f"E   assert <function merge_with at 0x{address}> == {{'a': 1}}\n"
            f'  File "/tmp/prochemy-sbx-{job}/repo/toolz/dicttoolz.py", line 3\n'
            "E   assert '0x1f' == '0x20'\n1 failed in 0.02s\n"
        )

    first, second = run("7f3a9c0d1e20", "4012-k2j4h1/tmpa8x"), run("7f55aa01b3c8", "977-zz81q/tmpq0c")
    assert steady_output(first) == steady_output(second)
    assert "<sandbox>/repo/toolz/dicttoolz.py" in steady_output(first)
    assert "'0x1f' == '0x20'" in steady_output(first)  # a value the code computed is not an address


async def test_alternate_prompts_answer_greedily_before_samples_and_may_agree() -> None:
    def answers(r: ChatRequest) -> str:
        system = r.messages[0]["content"]
        if r.temperature > 0:
            return RIGHT if r.sample == 1 else wrong(r.sample + 10)
        return wrong(0) if system.startswith("P") else wrong(1)  # both alternates write wrong(1)

    gw, tests = FakeGateway(answers), Checker()
    got = await guided_generate(  # type: ignore[arg-type]
        gw, "P", TASK, tests, plan(max_repeats=1), alternates=["A1", "A2"]
    )
    assert [a.how for a in got.attempts] == ["greedy", "alternate", "alternate", "sample"]
    assert got.attempts[2].repeat_of == 2  # the same code: not run again, and not a spent search
    assert got.passed and got.best.number == 4 and got.best.generation.code == RIGHT
    alternates = gw.requests[1:3]
    assert [r.messages[0]["content"][:2] for r in alternates] == ["A1", "A2"]
    assert all(r.temperature == 0 for r in alternates)
    # the first sample after the alternates is sample 1, the same one a run without them draws
    assert (gw.requests[3].temperature, gw.requests[3].sample) == (0.8, 1)
    assert len(tests.runs) == 3


async def test_greedy_repair_chains_one_at_a_time_each_repairing_the_one_before() -> None:
    # each repair answers wrong(k) where k = the number of repair turns' answers seen so far
    def answers(r: ChatRequest) -> str:
        assert r.temperature == 0
        if len(r.messages) <= 2:
            return wrong(0)
        shown = r.messages[2]["content"]  # the failing answer this repair sees
        return RIGHT if wrong(1) in shown else wrong(1)

    gw, tests = FakeGateway(answers), Checker()
    got = await guided_generate(gw, "P", TASK, tests, GuidedGeneration(temperature=0, feedback=True))  # type: ignore[arg-type]
    assert [a.how for a in got.attempts] == ["greedy", "repair", "repair"] and got.passed
    assert wrong(0) in gw.requests[1].messages[2]["content"]  # repair 1 sees the greedy answer
    assert wrong(1) in gw.requests[2].messages[2]["content"]  # repair 2 sees repair 1, not the greedy
    assert len(gw.requests) == 3  # one at a time, though the endpoint has 4 slots


async def test_greedy_repair_stops_once_a_repair_repeats_earlier_code() -> None:
    gw, tests = FakeGateway(lambda r: wrong(0)), Checker()
    got = await guided_generate(gw, "P", TASK, tests, GuidedGeneration(temperature=0, feedback=True))  # type: ignore[arg-type]
    assert [a.repeat_of for a in got.attempts] == [None, 1] and not got.passed
    assert got.stop == "greedy repair repeated candidate 1: so would the next"
    assert len(gw.requests) == 2 and len(tests.runs) == 1


async def test_temperature_0_without_feedback_draws_nothing_after_the_alternates() -> None:
    gw, tests = (
        FakeGateway(lambda r: wrong(0) if r.messages[0]["content"].startswith("P") else wrong(1)),
        Checker(),
    )
    got = await guided_generate(  # type: ignore[arg-type]
        gw, "P", TASK, tests, plan(temperature=0), alternates=["A1"]
    )
    assert [a.how for a in got.attempts] == ["greedy", "alternate"] and len(gw.requests) == 2
    assert got.stop == "temperature 0 without feedback: a further candidate would repeat the first"


@pytest.mark.parametrize("bad", [{"candidates": 0}, {"temperature": -0.1}, {"max_tokens": 1}])
def test_out_of_range_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        GuidedGeneration(**bad)


@pytest.mark.parametrize(
    ("statement", "prompt", "mode", "prefilled"),
    [
        ('def f(x):\n    """Return x."""\n', "Write code.", "embedded", True),
        ('def helper():\n    pass\n\n\ndef f(x):\n    """Return x."""\n', "Write code.", "embedded", True),
        ('def f(x):\n    """Return x."""\n', "Write code.", "off", False),
        ("Write f, which returns its argument.", "Write code.", "embedded", False),  # prose (MBPP)
        ('def g(x):\n    """Return x."""\n', "Write code.", "embedded", False),  # not the entry point
        (
            'def f(x):\n    """Return x."""\n',
            "Write code.\n[prochemy: examples=0, style=plan]",
            "embedded",
            False,
        ),
    ],
)
async def test_only_a_stub_statement_in_the_direct_style_prefills_the_answer(
    statement: str, prompt: str, mode: str, prefilled: bool
) -> None:
    from prochemy.optimizer.generation import generate

    sent: list[ChatRequest] = []

    class Gateway:
        settings = Settings(prefill_code=mode)

        async def chat(self, request: ChatRequest) -> ChatResult:
            sent.append(request)
            return ChatResult(
                text=request.prefill + "    return x\n```", prompt_tokens=1, completion_tokens=3, model="m"
            )

    task = FunctionTask(id="t/0", statement=statement, entry_point="f", test="assert f(1) == 1")
    generation = await generate(Gateway(), prompt, task)  # type: ignore[arg-type]
    assert bool(sent[0].prefill) == prefilled
    if prefilled:
        assert sent[0].prefill == f"```python\n{statement.rstrip()}\n"
        assert generation.code.strip().endswith("return x") and "def f(x)" in generation.code
