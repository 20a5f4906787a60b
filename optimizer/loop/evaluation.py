"""Evaluate prompts on tasks: M[i][j] = 1 iff prompt i's code passes task j.

Each (model, prompt, task) outcome is computed once and stored on disk, so survivors of
selection are never re-evaluated, and a killed run resumes without paying twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

from prochemy.sandbox.models import OutcomeName
from pydantic import BaseModel, model_validator

from ..aio import gather_or_cancel
from ..config import Settings
from ..generation import generate, judge
from ..judging import Judges
from ..llm.gateway import LLMGateway, endpoint_identity
from ..prompts import PromptSpec
from ..store import RecordStore
from ..tasks import Task, has_plus
from .failures import Failure, classify, failure_of

CODE_KEPT = 4000  # characters of an answer's code kept with its outcome


class TaskOutcome(BaseModel):
    passed: bool  # with HumanEval+ inputs: the original tests and the plus inputs
    base_passed: bool  # the task's own tests only
    outcome: OutcomeName
    detail: str
    completion_tokens: int
    failure: Failure | None = None  # why it failed (see failures.py); None for a pass
    code: str = ""  # the extracted code (clipped), shown to reflective mutation

    @model_validator(mode="after")
    def _classified(self) -> TaskOutcome:
        # outcomes stored before failures were classified: from the verdict alone
        if self.failure is None and not self.passed:
            self.failure = classify(self.outcome, self.detail)
        return self


# Bump when extraction or the harness changes what a stored outcome would be.
JUDGE_VERSION = 9  # 3: `from __future__` splice fix; 4: candidates run with a fixed hash seed;
# 5: split judge (plain data only, helpers from the task), keyed and screened repository runs
# 6: a repository pass counts only when confirmed with the candidate in its own process
# 7: no repository pass when pytest ends badly (exit code) even if every report passed
# 8: a module named on pytest's command line (a doctest's) is still the spliced candidate
# 9: isolation carries objects rebuilt by a function, callbacks' names; decorated inner stubs;
# the isolated candidate imports under the name and sys.path of pytest's process


class OutcomeStore(RecordStore[TaskOutcome]):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory, TaskOutcome)

    @staticmethod
    def key(model_identity: str, prompt: str, task: Task) -> str:
        shown = [e.model_dump() for e in task.examples[: PromptSpec.parse(prompt).examples]]
        raw = json.dumps(
            [JUDGE_VERSION, model_identity, prompt, task.fingerprint] + ([shown] if shown else [])
        )
        return hashlib.sha256(raw.encode()).hexdigest()


def model_identity(settings: Settings, serial: bool = False) -> str:
    """What an outcome depends on besides prompt and task: the model and how it is asked.
    Known without starting anything (an editor asks it just to see if a prompt is stale)."""
    identity, model = endpoint_identity(settings, settings.endpoint)
    # a prefilled stub changes answers (the cut at the end of the code does not)
    prefill = f"|prefill={settings.prefill_code}" if settings.prefill_code != "off" else ""
    return f"{identity}|{model}|max_tokens={settings.max_tokens}{prefill}{'|serial' if serial else ''}"


class Evaluator:
    """Prompt x task outcomes through the gateway (temperature 0) and the task kinds' judges."""

    def __init__(
        self,
        gateway: LLMGateway,
        judges: Judges,
        store: OutcomeStore,
        serial: bool = False,
        reference: bool = False,
    ) -> None:
        self.gateway = gateway
        self.judges = judges
        self.serial = serial  # deterministic mode, see ChatRequest.serial
        self.store = store
        # the paper's loop: every outcome computed again (no stored outcome read, none
        # written, answers paid afresh and uncut), to measure what reuse and the cut save
        self.reference = reference
        self._inflight: dict[str, asyncio.Task[TaskOutcome]] = {}  # one computation per key

    async def model_identity(self) -> str:
        return model_identity(self.gateway.settings, self.serial)

    async def outcome(self, prompt: str, task: Task) -> TaskOutcome:
        key = OutcomeStore.key(await self.model_identity(), prompt, task)
        if not self.reference and (known := self.store.get(key)) is not None:
            return known
        if key not in self._inflight:
            self._inflight[key] = asyncio.ensure_future(self._compute(key, prompt, task))
            self._inflight[key].add_done_callback(lambda _: self._inflight.pop(key, None))
        return await self._inflight[key]  # cancelled with its awaiters: no orphan keeps paying

    async def _compute(self, key: str, prompt: str, task: Task) -> TaskOutcome:
        generation = await generate(self.gateway, prompt, task, serial=self.serial, reference=self.reference)
        with_plus = has_plus(task)
        judged = await judge(self.judges, task, generation, with_plus=with_plus)
        verdict = judged.verdict
        result = TaskOutcome(
            passed=verdict.passed,
            base_passed=judged.result.passed,
            outcome=verdict.outcome.value,
            detail=verdict.detail,
            completion_tokens=generation.completion_tokens,
            code=generation.code[:CODE_KEPT],
            failure=failure_of(judged, task.entry_point),
        )
        if not self.reference:
            self.store.put(key, result)
        return result

    def with_serial(self, serial: bool) -> Evaluator:
        """The same stores and runners, in (or out of) deterministic mode."""
        return Evaluator(self.gateway, self.judges, self.store, serial=serial, reference=self.reference)

    def as_reference(self) -> Evaluator:
        return Evaluator(self.gateway, self.judges, self.store, serial=self.serial, reference=True)

    async def matrix(self, prompts: list[str], tasks: list[Task]) -> list[list[TaskOutcome]]:
        cells = await gather_or_cancel(*(self.outcome(p, t) for p in prompts for t in tasks))
        width = len(tasks)
        return [list(cells[i * width : (i + 1) * width]) for i in range(len(prompts))]
