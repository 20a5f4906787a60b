"""Refine a prompt against a repository's own tests, and generate with the stored one.

mine (cached per tree) -> split into training and held-out tasks -> synthetic variants
of the training tasks -> the Prochemy loop (warm-started from the project's stored prompt)
-> seed guard on the held-out tasks -> store the result for (project, model).
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

from prochemy.sandbox.models import RunResult
from prochemy.sandbox.pool import Sandbox
from prochemy.sandbox.repo_runner import RepoRunner
from prochemy.sandbox.splice import SpliceError, find_function, splice_function
from pydantic import BaseModel

from .config import Settings
from .evaluation import Evaluator, OutcomeStore, model_identity
from .gateway import LLMGateway, ResponseCache
from .generation import SEED_PROMPT, Generation, generate, run_in_repo
from .locks import project_lock
from .mining import MiningReport, mine, repo_runner
from .project_store import ProjectRecord, ProjectStore, StoredPrompt
from .refine import Progress, RefineConfig, Refiner, RefineResult
from .repo_env import RepoError, find_interpreter, module_name, python_files, tree_fingerprint
from .repo_statement import build_statement
from .repo_synthesis import RepoSynthesisReport, synthesize_repo_tasks
from .store import RecordStore
from .tasks import RepoTarget, Task, TaskSet


class RepoRefinement(BaseModel):
    mining: MiningReport
    synthesis: RepoSynthesisReport
    result: RefineResult
    record: ProjectRecord


def _mining_store(settings: Settings) -> RecordStore[MiningReport]:
    return RecordStore(settings.cache_dir / "mining", MiningReport)


def _project_store(settings: Settings) -> ProjectStore:
    return ProjectStore(settings.cache_dir / "projects")


async def mine_cached(
    settings: Settings, root: Path, on_progress: Callable[[str], None] | None = None
) -> MiningReport:
    """Mining results are reused while the tests, sources, interpreter and bounds are unchanged."""
    root = root.resolve()
    if not root.is_dir():
        raise RepoError(f"{root} is not a directory")
    interpreter, tree = await asyncio.to_thread(
        lambda: (find_interpreter(root, settings.test.python), tree_fingerprint(root, python_files(root)))
    )
    key = hashlib.sha256(
        json.dumps(
            [str(root), tree, interpreter.path, settings.test.model_dump(mode="json"), settings.sandbox.level]
        ).encode()
    ).hexdigest()
    async with project_lock(settings.cache_dir, "mine", key):  # a second asker waits, then reuses
        cache = _mining_store(settings)
        try:
            if (known := cache.get(key)) is not None:
                return known
            report = await mine(root, settings.test, settings.sandbox, on_progress)
            cache.put(key, report)
            return report
        finally:
            cache.close()


def split(
    tasks: list[Task], held_out_fraction: float, k_real: int, seed: int
) -> tuple[list[Task], list[Task]]:
    """Training (at most k_real) and held-out tasks; both non-empty when there are 2+ tasks."""
    shuffled = sorted(tasks, key=lambda t: t.id)
    random.Random(seed).shuffle(shuffled)
    held = round(len(shuffled) * held_out_fraction)
    held = min(max(held, 1 if len(shuffled) >= 2 else 0), len(shuffled) - 1)
    return shuffled[held:][:k_real], sorted(shuffled[:held], key=lambda t: t.id)


def _runner(settings: Settings, report: MiningReport) -> RepoRunner:
    return repo_runner(Path(report.root), report.interpreter.path, settings.sandbox, settings.test)


async def refine_repo(
    settings: Settings,
    root: Path,
    config: RefineConfig,
    k_real: int = 10,
    k_synthetic: int = 10,
    seed_prompt: str = SEED_PROMPT,
    held_out_limit: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RepoRefinement:
    say = on_progress or (lambda p: None)
    # one refinement of a project and model at a time, across processes: a second one waits,
    # then replays the first's answers and outcomes from the caches
    async with project_lock(settings.cache_dir, "refine", str(root.resolve()), model_identity(settings)):
        return await _refine_repo(
            settings, root, config, k_real, k_synthetic, seed_prompt, held_out_limit, say
        )


async def _refine_repo(
    settings: Settings,
    root: Path,
    config: RefineConfig,
    k_real: int,
    k_synthetic: int,
    seed_prompt: str,
    held_out_limit: int | None,
    say: Callable[[Progress], None],
) -> RepoRefinement:
    report = await mine_cached(settings, root, lambda m: say(Progress(phase="mining", message=m)))
    if len(report.tasks) < 2:
        raise RepoError(
            f"only {len(report.tasks)} task(s) could be mined from {report.root}; at "
            f"least 2 are needed (one to train on, one to check). Skipped: "
            f"{report.skip_counts or 'nothing'}"
        )
    real, held = split(report.tasks, settings.test.held_out_fraction, k_real, config.seed)
    held = held[:held_out_limit] if held_out_limit is not None else held
    modules = {module_name(f): f for f in python_files(Path(report.root))}
    gateway = LLMGateway(settings)
    gateway.budget = config.budget()  # every paid call counts, synthesis and held-out included
    outcomes = OutcomeStore(settings.cache_dir / "outcomes")
    projects = _project_store(settings)
    try:
        async with Sandbox(settings.sandbox) as sandbox, _runner(settings, report) as runner:
            say(Progress(phase="synthesis", message=f"writing {k_synthetic} task variants"))
            synthetic, synth = await synthesize_repo_tasks(
                gateway, runner, real, k_synthetic, config.seed, modules
            )
            evaluator = Evaluator(gateway, sandbox, outcomes, repo=runner)
            model = model_identity(settings)
            known = projects.load(Path(report.root), model)
            warm = [known.current.best_prompt] if known is not None else None
            train = TaskSet(name="repo-train", tasks=real + synthetic)
            result = await Refiner(gateway, evaluator, config, say).run(
                seed_prompt, train, TaskSet(name="repo-held-out", tasks=held), warm_start=warm
            )
        result.synthesis = synth.model_dump()
        stored = StoredPrompt(
            prompt=result.adopted_prompt,
            adopted=result.adopted,
            best_prompt=result.best_prompt,
            seed_prompt=seed_prompt,
            tree=report.tree,
            run_id=result.run_id,
            train_pass=result.best_train_pass(),
            held_out=result.held_out_comparison,
            stop_reason=result.stop_reason,
            usage=result.usage,
            wall_s=result.wall_s,
        )
        record = projects.remember(Path(report.root), model, stored)
    finally:
        projects.close()
        outcomes.close()
        await gateway.aclose()
    return RepoRefinement(mining=report, synthesis=synth, result=result, record=record)


class FunctionGeneration(BaseModel):
    task: Task
    generation: Generation
    prompt_source: str  # "refined", "seed (the refinement kept it)", "seed (no refinement yet)"
    stale: bool  # the tests changed since the prompt was refined
    check: RunResult | None = None
    check_note: str = ""  # why no check ran


def parse_function_ref(ref: str) -> tuple[str, str]:
    """'pkg.module:Qual.name' or 'pkg/module.py:Qual.name' -> (module path or name, qualname)."""
    module, sep, qualname = ref.partition(":")
    if not sep or not module or not qualname:
        raise RepoError(
            f"--function {ref!r}: expected MODULE:QUALNAME, e.g. shelfkit.text:slugify "
            "or shelfkit/text.py:Inventory.add"
        )
    return module, qualname


async def generate_function(
    settings: Settings, root: Path, ref: str, check: bool, prompt: str | None = None
) -> FunctionGeneration:
    """Code for one function with the project's stored prompt (temperature 0)."""
    root = root.resolve()
    report = await mine_cached(settings, root)
    module, qualname = parse_function_ref(ref)
    files = python_files(root)
    by_name = {module_name(f): f for f in files}
    rel = Path(module) if module.endswith(".py") else by_name.get(module)
    if rel is None or not (root / rel).is_file():
        raise RepoError(f"no module {module!r} in {root}")
    try:
        find_function(ast.parse((root / rel).read_text()), qualname)
    except KeyError:
        raise RepoError(f"{rel} has no top-level function or method {qualname!r}") from None
    task_id = f"{rel}::{qualname}"
    task = next((t for t in report.tasks if t.id == task_id), None)
    if task is None:
        task = Task(
            id=task_id,
            statement=build_statement(root, rel, qualname, by_name),
            entry_point=qualname.split(".")[-1],
            test="",
            origin="repository",
            repo=RepoTarget(
                root=str(root), module=str(rel), qualname=qualname, node_ids=[], tree=report.tree
            ),
        )
    gateway = LLMGateway(settings)
    projects = _project_store(settings)
    try:
        identity = model_identity(settings)
        record = projects.load(root, identity)
        if prompt is not None:
            chosen, source, stale = prompt, "given with --prompt", False
        elif record is None:
            chosen, source, stale = SEED_PROMPT, "seed (no refinement stored for this project yet)", False
        else:
            chosen = record.current.prompt
            source = "refined" if record.current.adopted == "refined" else "seed (the refinement kept it)"
            stale = record.is_stale(report.tree)
        generation = await generate(gateway, chosen, task)
        result = FunctionGeneration(task=task, generation=generation, prompt_source=source, stale=stale)
        if check:
            if not task.repo or not task.repo.node_ids:
                skip = next((s.reason for s in report.skipped if s.function == task_id), "not mined")
                result.check_note = f"no related tests to run ({skip})"
            else:
                async with _runner(settings, report) as runner:
                    result.check = await run_in_repo(runner, task, generation.code)
        return result
    finally:
        projects.close()
        await gateway.aclose()


class Implementation(BaseModel):
    made: FunctionGeneration
    new_source: str | None  # the given source with the function replaced, when it splices
    problem: str = ""  # why there is no new source


async def implement_in_source(
    settings: Settings, root: Path, rel: Path, source: str, qualname: str, check: bool = True
) -> Implementation:
    """Generate `qualname` of the module at `rel` and splice it into `source` (an editor's
    buffer, perhaps unsaved); with `check`, its related tests judge the code first."""
    made = await generate_function(settings, root, f"{rel}:{qualname}", check=check)
    try:
        return Implementation(made=made, new_source=splice_function(source, qualname, made.generation.code))
    except (SpliceError, SyntaxError, KeyError) as e:
        return Implementation(made=made, new_source=None, problem=str(e))


class ProjectState(BaseModel):
    root: str
    tree: str
    record: ProjectRecord | None

    @property
    def stale(self) -> bool:
        return self.record is not None and self.record.is_stale(self.tree)


def project_state(settings: Settings, root: Path, tree: str | None = None) -> ProjectState:
    """The stored prompt for this project and model, and whether the tests changed since
    (`tree`: a fingerprint the caller already has, to skip walking the tree)."""
    root = root.resolve()
    projects = _project_store(settings)
    try:
        record = projects.load(root, model_identity(settings))
    finally:
        projects.close()
    if tree is None:
        tree = tree_fingerprint(root, python_files(root))
    return ProjectState(root=str(root), tree=tree, record=record)


def clear_caches(settings: Settings) -> dict[str, int]:
    """Forget LLM answers, outcomes and mining results (stored prompts are kept)."""
    counts = {}
    stores: list[tuple[str, RecordStore]] = [
        ("llm answers", ResponseCache(settings.cache_dir / "llm")),
        ("outcomes", OutcomeStore(settings.cache_dir / "outcomes")),
        ("mining results", _mining_store(settings)),
    ]
    for name, store in stores:
        try:
            counts[name] = store.clear()
        finally:
            store.close()
    return counts
