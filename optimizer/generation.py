"""Generate code for a task with a system prompt at temperature 0, and judge it."""

from __future__ import annotations

from pathlib import Path

from prochemy.sandbox.models import Outcome, RunResult
from prochemy.sandbox.pool import Sandbox
from prochemy.sandbox.repo_runner import RepoRunner
from prochemy.sandbox.splice import SpliceError, splice_function
from pydantic import BaseModel

from .extraction import extract_code
from .gateway import ChatRequest, LLMGateway
from .harness import check_job, plus_job
from .tasks import Task

UNCONFIRMED = (
    "the tests passed in pytest's process but not with the candidate isolated "
    "from them (a pass in pytest's process can be forged, so it does not count)"
)

# The paper's seed prompt S(0), verbatim.
SEED_PROMPT = (
    "You are a code generation assistant. Your task is to generate Python code based on the "
    "given task description and complete the work described in the task."
)


class Generation(BaseModel):
    task_id: str
    answer: str
    code: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool


class Judged(BaseModel):
    generation: Generation
    result: RunResult
    plus: RunResult | None = None


def messages_for(system_prompt: str, task: Task) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": task.statement}]


async def generate(gateway: LLMGateway, system_prompt: str, task: Task, serial: bool = False) -> Generation:
    reply = await gateway.chat(
        ChatRequest(role="task", messages=messages_for(system_prompt, task), temperature=0.0, serial=serial)
    )
    # a repository statement is prose around the module's context, not a stub to complete
    stub = "" if task.repo is not None else task.statement
    return Generation(
        task_id=task.id,
        answer=reply.text,
        code=extract_code(reply.text, task.entry_point, stub),
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        cached=reply.cached,
    )


async def run_in_repo(runner: RepoRunner, task: Task, code: str) -> RunResult:
    """Splice the candidate into its module (in memory) and run the task's related tests.
    There the candidate shares pytest's process and could forge the report, so a pass is
    confirmed by a second run with the candidate in its own process (sandbox/isolate.py);
    only a confirmed pass is a pass."""
    assert task.repo is not None
    target = task.repo
    source = (Path(target.root) / target.module).read_text()
    try:
        spliced = splice_function(source, target.qualname, code)
    except SpliceError as e:
        return RunResult(outcome=Outcome.ERROR, detail=str(e), tier=runner.tier)
    shared = (await runner.run(target.node_ids, {target.module: spliced})).result
    if not shared.passed:
        return shared
    try:
        isolated = (
            await runner.run_isolated(target.node_ids, target.module, target.qualname, spliced)
        ).result
    except SpliceError as e:
        isolated = RunResult(outcome=Outcome.ERROR, detail=str(e), tier=runner.tier)
    if isolated.passed:
        return isolated.model_copy(update={"duration_s": shared.duration_s + isolated.duration_s})
    return isolated.model_copy(
        update={
            "outcome": Outcome.ERROR,
            "detail": f"{UNCONFIRMED}: {isolated.outcome.value}: {isolated.detail}"[:1500],
        }
    )


async def judge(
    sandbox: Sandbox,
    task: Task,
    generation: Generation,
    with_plus: bool = False,
    plus_timeout_s: float = 120.0,
    repo: RepoRunner | None = None,
) -> Judged:
    if task.repo is not None:
        if repo is None:
            raise ValueError(f"{task.id} is a repository task: judging it needs a RepoRunner")
        return Judged(generation=generation, result=await run_in_repo(repo, task, generation.code))
    result = await sandbox.judge(*check_job(task, generation.code))
    plus = None
    if with_plus and task.plus is not None:
        plus = await sandbox.judge(*plus_job(task, generation.code), timeout_s=plus_timeout_s)
    return Judged(generation=generation, result=result, plus=plus)
