"""The application layer: a Session owns what a front end needs and offers the use cases.

One Session per front-end use (a CLI command, an editor request, a benchmark script): it
holds the settings, the LLM gateway, the function-task sandbox, one repository runner per
project (each started on first use), and the stores (outcomes, mining results, project
prompts, refinement runs). The CLI, the language server and the benchmark scripts call
its methods and nothing below them, so the wiring is written once, and every refinement is
saved wherever it starts. `async with Session(settings) as s:` closes everything.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from prochemy.sandbox import Sandbox
from prochemy.sandbox.models import RunResult
from prochemy.sandbox.pyparse import parse_python
from prochemy.sandbox.repo_runner import RepoRunner
from prochemy.sandbox.splice import SpliceError, find_function, splice_function
from pydantic import BaseModel

from .bench import BenchReport, run_bench
from .config import MAX_ALTERNATES, Settings
from .generation import SEED_PROMPT, Generation, Judged, generate, judge
from .guided import Attempt, guided_generate
from .judging import Judges
from .llm.gateway import Budget, ChatRequest, LLMGateway, ResponseCache
from .locks import project_lock
from .loop.evaluation import Evaluator, OutcomeStore, model_identity
from .loop.refine import Progress, RefineConfig, Refiner, RefineResult
from .loop.runs import RunStore
from .loop.screening import Screener, screen
from .project_file import PROMPT_FILE, ExportedPrompt, read_prompt_file, write_project_files
from .project_store import ProjectRecord, ProjectStore, StoredPrompt, TranslationPrompts
from .repo_models import (
    FunctionGeneration,
    Implementation,
    NotConfirmed,
    ProjectState,
    parse_function_ref,
)
from .store import RecordStore
from .tasks import RepoTarget, RepoTask, SynthesisReport, Task, TaskSet, TaskSuite
from .tasks.examples import repository_bank, with_examples
from .tasks.mining import MINING_VERSION, MiningReport, mine, repo_runner
from .tasks.model import Language
from .tasks.related_tests import show_tests
from .tasks.repo_env import Project, RepoError, module_map, python_files, tree_fingerprint
from .tasks.repo_statement import build_statement
from .tasks.repo_synthesis import synthesize_repo_tasks
from .tasks.sampling import split, spread_sample
from .tasks.training import TrainingConfig, benchmark_sets
from .tasks.translation import BENCHMARKS as TRANSLATION_BENCHMARKS
from .tasks.translation import TRANSLATION_SEED_PROMPT, text_translation


class SavedRun(BaseModel):
    result: RefineResult
    path: str  # the run's JSON file (`prochemy report RUN_ID` opens it)


class BenchmarkRefinement(SavedRun):
    synthesis: SynthesisReport
    training_tasks: int
    held_out_tasks: int


class RepoRefinement(SavedRun):
    mining: MiningReport
    synthesis: SynthesisReport
    record: ProjectRecord


class Session:
    def __init__(self, settings: Settings, use_cache: bool = True) -> None:
        self.settings = settings
        self.use_cache = use_cache
        self._gateway: LLMGateway | None = None
        self._sandbox: Sandbox | None = None
        self._runners: dict[tuple[str, str], RepoRunner] = {}
        self._stores: dict[str, RecordStore] = {}
        self._start = asyncio.Lock()
        self.runs = RunStore(settings.cache_dir / "runs")

    # -- resources, made on first use --------------------------------------------------

    @property
    def gateway(self) -> LLMGateway:
        if self._gateway is None:
            self._gateway = LLMGateway(self.settings, use_cache=self.use_cache)
        return self._gateway

    async def sandbox(self) -> Sandbox:
        async with self._start:
            if self._sandbox is None:
                self._sandbox = await Sandbox(self.settings.sandbox).start()
            return self._sandbox

    async def runner(self, report: MiningReport) -> RepoRunner:
        """The repository runner for a mined project (its interpreter, its tree)."""
        key = (report.root, report.interpreter.path)
        async with self._start:
            if key not in self._runners:
                runner = repo_runner(
                    Path(report.root), report.interpreter.path, self.settings.sandbox, self.settings.test
                )
                await runner.sandbox.start()
                self._runners[key] = runner
            return self._runners[key]

    async def judges(self, report: MiningReport | None = None) -> Judges:
        """A judge for every task kind at hand: function tasks always, a mined project's
        repository tasks when its report is given."""
        runner = await self.runner(report) if report is not None else None
        return Judges(function=await self.sandbox(), repository=runner)

    @property
    def outcomes(self) -> OutcomeStore:
        return self._store("outcomes", lambda d: OutcomeStore(d))  # type: ignore[return-value]

    @property
    def projects(self) -> ProjectStore:
        return self._store("projects", lambda d: ProjectStore(d))  # type: ignore[return-value]

    @property
    def translation_prompts(self) -> TranslationPrompts:
        return self._store("translation-prompts", lambda d: TranslationPrompts(d))  # type: ignore[return-value]

    @property
    def mining_results(self) -> RecordStore[MiningReport]:
        return self._store("mining", lambda d: RecordStore(d, MiningReport))

    def _store(self, name: str, make: Callable[[Path], RecordStore]) -> RecordStore:
        if name not in self._stores:
            self._stores[name] = make(self.settings.cache_dir / name)
        return self._stores[name]

    async def close(self) -> None:
        for runner in self._runners.values():
            await runner.close()
        self._runners.clear()
        if self._sandbox is not None:
            await self._sandbox.close()
            self._sandbox = None
        for store in self._stores.values():
            store.close()
        self._stores.clear()
        if self._gateway is not None:
            await self._gateway.aclose()
            self._gateway = None

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __enter__(self) -> Session:
        """Synchronous use, for the store-only use cases (project_state, clear_caches)."""
        return self

    def __exit__(self, *exc: object) -> None:
        if self._gateway is not None or self._sandbox is not None or self._runners:
            raise RuntimeError("this Session started async resources: use `async with`")
        for store in self._stores.values():
            store.close()
        self._stores.clear()

    # -- function-level tasks (benchmarks, a task file) ---------------------------------

    async def generate_task(
        self, task: Task, prompt: str, check: bool = False, plus: bool = False
    ) -> tuple[Generation, Judged | None]:
        generation = await generate(self.gateway, prompt, task)
        if not check:
            return generation, None
        return generation, await judge(await self.judges(), task, generation, with_plus=plus)

    async def bench(
        self,
        tasks: Sequence[Task],
        prompt: str,
        name: str,
        benchmark: str,
        plus: bool = False,
        on_done: Callable[[Judged], None] | None = None,
    ) -> BenchReport:
        return await run_bench(
            self.gateway, await self.judges(), tasks, prompt, name, benchmark, plus=plus, on_done=on_done
        )

    async def refine_benchmark(
        self,
        training: TrainingConfig,
        config: RefineConfig,
        seed_prompt: str = SEED_PROMPT,
        on_progress: Callable[[Progress], None] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> BenchmarkRefinement:
        """The paper's setting: train on real + synthetic tasks, measure on held-out ones."""
        note = on_note or (lambda message: None)
        with self._budget(config.budget()):  # synthesis and the held-out check count too
            sandbox = await self.sandbox()
            evaluator = Evaluator(self.gateway, Judges(function=sandbox), self.outcomes)
            choose = None
            if config.screen:
                note(f"screening {config.screen} candidate training tasks with the seed prompt ...")
                choose = Screener(evaluator, seed_prompt, config.screen, config.seed)
            note("making the training set ...")
            suite = await benchmark_sets(self.gateway, sandbox, training, choose)
            synth = suite.synthesis
            note(
                f"training tasks: {len(suite.train.tasks)} ({training.k_real} real from "
                f"{training.source()}, {synth.kept} synthetic kept of {synth.generated} written; "
                f"rejected: {synth.rejected or 'none'}); held-out: {len(suite.held_out.tasks)}"
            )
            result = await Refiner(self.gateway, evaluator, config, on_progress).run(seed_prompt, suite)
        path = self.runs.save(result)
        if training.benchmark in TRANSLATION_BENCHMARKS:  # what `translate` uses from now on
            self.translation_prompts.put(
                TranslationPrompts.key(
                    TRANSLATION_BENCHMARKS[training.benchmark], model_identity(self.settings)
                ),
                _stored(result, seed_prompt, tree=training.benchmark),
            )
        return BenchmarkRefinement(
            result=result,
            path=str(path),
            synthesis=synth,
            training_tasks=len(suite.train.tasks),
            held_out_tasks=len(suite.held_out.tasks),
        )

    # -- repositories ------------------------------------------------------------------

    async def mine(self, root: Path, on_progress: Callable[[str], None] | None = None) -> MiningReport:
        """Tasks mined from the project's tests; reused while the tests, sources,
        interpreter and bounds are unchanged."""
        # the tree walk and the interpreter probe run off the event loop (an editor waits)
        project = await asyncio.to_thread(Project.resolve, root, self.settings.test.python)
        key = hashlib.sha256(
            json.dumps(
                [
                    MINING_VERSION,
                    str(project.root),
                    project.fingerprint,
                    project.interpreter.path,
                    self.settings.test.model_dump(mode="json"),
                    self.settings.sandbox.level,
                ]
            ).encode()
        ).hexdigest()
        async with project_lock(self.settings.cache_dir, "mine", key):  # a second asker waits, reuses
            if (known := self.mining_results.get(key)) is not None:
                return known
            report = await mine(project, self.settings.test, self.settings.sandbox, on_progress)
            if report.complete:  # an undecided function must be checked again next time
                self.mining_results.put(key, report)
            return report

    async def refine_repository(
        self,
        root: Path,
        config: RefineConfig,
        k_real: int = 10,
        k_synthetic: int = 10,
        seed_prompt: str = SEED_PROMPT,
        held_out_limit: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> RepoRefinement:
        """mine -> split -> synthetic variants -> the loop (warm-started from the stored
        prompt) -> seed guard on the held-out tasks -> store the prompt and the run."""
        say = on_progress or (lambda p: None)
        # one refinement of a project and model at a time, across processes: a second one
        # waits, then replays the first's answers and outcomes from the caches
        identity = model_identity(self.settings)
        async with project_lock(self.settings.cache_dir, "refine", str(root.resolve()), identity):
            report = await self.mine(root, lambda m: say(Progress(phase="mining", message=m)))
            if len(report.tasks) < 2:
                raise RepoError(
                    f"only {len(report.tasks)} task(s) could be mined from {report.root}; at "
                    f"least 2 are needed (one to train on, one to check). Skipped: "
                    f"{report.skip_counts or 'nothing'}"
                )
            fraction = self.settings.test.held_out_fraction
            real, held = split(report.tasks, fraction, max(k_real, config.screen or 0), config.seed)
            held = spread_sample(held, held_out_limit, config.seed)
            modules = module_map(Path(report.root), python_files(Path(report.root)))
            with self._budget(config.budget()):  # synthesis and the held-out check count too
                runner = await self.runner(report)
                evaluator = Evaluator(self.gateway, await self.judges(report), self.outcomes)
                screening = None
                if config.screen:
                    say(
                        Progress(
                            phase="screening", message=f"screening {len(real)} tasks with the seed prompt"
                        )
                    )
                    real, screening = await screen(evaluator, seed_prompt, real, k_real, config.seed)
                say(Progress(phase="synthesis", message=f"writing {k_synthetic} task variants"))
                synthetic, synth = await synthesize_repo_tasks(
                    self.gateway, runner, real, k_synthetic, config.seed, modules
                )
                known = self.projects.load(Path(report.root), identity)
                warm = [known.current.best_prompt] if known is not None else None
                # worked examples, for prompts that show some: the repository's own functions
                bank, module_of = repository_bank(report.tasks)
                suite = TaskSuite(
                    train=TaskSet(
                        name="repo-train", tasks=with_examples(real, bank, modules=module_of) + synthetic
                    ),
                    held_out=TaskSet(
                        name="repo-held-out", tasks=with_examples(held, bank, modules=module_of)
                    ),
                    synthesis=synth,
                    screening=screening,
                )
                result = await Refiner(self.gateway, evaluator, config, say).run(
                    seed_prompt, suite, warm_start=warm
                )
            path = self.runs.save(result)
            record = self.projects.remember(
                Path(report.root), identity, _stored(result, seed_prompt, report.tree)
            )
        return RepoRefinement(result=result, path=str(path), mining=report, synthesis=synth, record=record)

    async def generate_function(
        self,
        root: Path,
        ref: str,
        check: bool,
        prompt: str | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> FunctionGeneration:
        """Code for one function with the project's stored prompt (temperature 0); with
        `check`, its related tests judge it (a pass is confirmed in isolation) and, when they
        fail it, further candidates are drawn until one passes (the `generate` settings)."""
        root = root.resolve()
        report = await self.mine(root)
        task = _function_task(root, ref, report)
        if self.settings.generate.show_tests:
            task = show_tests(task)
        record = self.projects.load(root, model_identity(self.settings))
        shared = self.shared_prompt(root)
        alternates: list[str] = []  # a refinement's runners-up, with the prompt it chose
        if prompt is not None:
            chosen, source, stale = prompt, "given with --prompt", False
        elif shared is not None:
            what = "refined" if shared.adopted == "refined" else "seed"
            chosen, source, stale = (
                shared.prompt,
                f"{what}, from the project's {PROMPT_FILE}",
                shared.tree != report.tree,
            )
            alternates = shared.alternates
        elif record is None:
            chosen, source, stale = SEED_PROMPT, "seed (no refinement stored for this project yet)", False
        else:
            chosen = record.current.prompt
            source = "refined" if record.current.adopted == "refined" else "seed (the refinement kept it)"
            stale = record.is_stale(report.tree)
            alternates = record.current.alternates
        if not check or not task.repo.node_ids:
            made = FunctionGeneration(
                task=task,
                generation=await generate(self.gateway, chosen, task),
                prompt_source=source,
                stale=stale,
            )
            if check:
                skip = next((s.reason for s in report.skipped if s.function == task.id), "not mined")
                made.check_note = f"no related tests to run ({skip})"
            return made
        judges = await self.judges(report)

        async def run_tests(code: str) -> RunResult:
            return (await judges.judge(task, code)).result

        plan = self.settings.generate
        guided = await guided_generate(
            self.gateway,
            chosen,
            task,
            run_tests,
            plan,
            alternates=alternates[: plan.alternates],
            on_attempt=on_attempt,
        )
        return FunctionGeneration(
            task=task,
            generation=guided.best.generation,
            prompt_source=source,
            stale=stale,
            check=guided.best.result,
            guided=guided,
        )

    async def implement(
        self,
        root: Path,
        rel: Path,
        source: str,
        qualname: str,
        check: bool = True,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> Implementation:
        """Generate `qualname` of the module at `rel` and splice it into `source` (an
        editor's buffer, perhaps unsaved); with `check`, its related tests judge it first."""
        made = await self.generate_function(root, f"{rel}:{qualname}", check=check, on_attempt=on_attempt)
        try:
            return Implementation(
                made=made, new_source=splice_function(source, qualname, made.generation.code)
            )
        except (SpliceError, SyntaxError, KeyError) as e:
            return Implementation(made=made, new_source=None, problem=str(e))

    def apply(self, made: FunctionGeneration) -> Path:
        """Write a generated function into its module, only if its pass was confirmed."""
        if not isinstance(made.task, RepoTask) or made.check is None or not made.check.passed:
            raise NotConfirmed("the related tests did not pass")
        target = made.task.repo
        module = Path(target.root) / target.module
        module.write_text(splice_function(module.read_text(), target.qualname, made.generation.code))
        return module

    # -- the prompt as project files --------------------------------------------------

    def shared_prompt(self, root: Path) -> ExportedPrompt | None:
        """The project's committed prompt (.prochemy/prompt.toml), when it was refined with
        the model in use; a file for another model is left alone (generation says which)."""
        exported = read_prompt_file(root)
        if exported is None or exported.model != model_identity(self.settings):
            return None
        return exported

    def export_prompt(self, root: Path) -> tuple[ExportedPrompt, list[Path]]:
        """Write the stored prompt for this project and model into the repository."""
        root = root.resolve()
        identity = model_identity(self.settings)
        record = self.projects.load(root, identity)
        if record is None:
            raise RepoError(
                f"no refined prompt is stored for {root} with {identity}; run `prochemy refine {root}` first"
            )
        exported = ExportedPrompt.of(record)
        return exported, write_project_files(root, exported)

    def import_prompt(self, root: Path) -> ProjectRecord:
        """Restore the project's committed prompt into this user's store (under the model
        it was refined with)."""
        root = root.resolve()
        exported = read_prompt_file(root)
        if exported is None:
            raise RepoError(f"{root / PROMPT_FILE} does not exist; `prochemy export` writes it")
        return self.projects.remember(root, exported.model, exported.stored())

    def project_state(self, root: Path, tree: str | None = None) -> ProjectState:
        """The stored prompt for this project and model, and whether the tests changed since
        (`tree`: a fingerprint the caller already has, to skip walking the tree)."""
        root = root.resolve()
        record = self.projects.load(root, model_identity(self.settings))
        if tree is None:
            tree = tree_fingerprint(root, python_files(root))
        try:
            shared = self.shared_prompt(root)
        except RepoError:  # an unreadable file: generation reports it; the state does not fail
            shared = None
        return ProjectState(
            root=str(root), tree=tree, record=record, shared=None if shared is None else shared.adopted
        )

    def clear_caches(self) -> dict[str, int]:
        """Forget LLM answers, outcomes and mining results (stored prompts are kept)."""
        answers = ResponseCache(self.settings.cache_dir / "llm")
        try:
            counts = {"llm answers": answers.clear()}
        finally:
            answers.close()
        counts["outcomes"] = self.outcomes.clear()
        counts["mining results"] = self.mining_results.clear()
        return counts

    def load_run(self, ref: str) -> SavedRun:
        result = self.runs.load(ref)
        return SavedRun(result=result, path=str(self.runs.path(result.run_id)))

    # -- translation -------------------------------------------------------------------

    def translation_prompt(self, source_language: Language, target_language: Language) -> tuple[str, str]:
        """(prompt, where it comes from): the prompt `prochemy refine --benchmark
        translate-<source>-<target>` adopted with this model, else the translation seed."""
        direction = f"{source_language}-{target_language}"
        stored = self.translation_prompts.get(
            TranslationPrompts.key(direction, model_identity(self.settings))
        )
        if stored is None:
            return TRANSLATION_SEED_PROMPT, "the translation seed prompt (no refinement for this model yet)"
        return stored.prompt, f"the {stored.adopted} prompt of translation run {stored.run_id}"

    async def translate(
        self, source: str, source_language: Language, target_language: Language, name: str
    ) -> Generation:
        """Code (a file or a selection) in the other language, with this user's translation
        prompt for that direction and model (`translation_prompt`)."""
        task = text_translation(source, source_language, target_language, name)
        prompt, _ = self.translation_prompt(source_language, target_language)
        return await generate(self.gateway, prompt, task)

    # -- the endpoint ------------------------------------------------------------------

    async def describe_endpoint(self) -> dict[str, str]:
        return await self.gateway.describe("task")

    async def list_models(self) -> list[str]:
        return await self.gateway.list_models()

    async def tiny_completion(self) -> str:
        reply = await self.gateway.chat(
            ChatRequest(messages=[{"role": "user", "content": "Say OK."}], max_tokens=8)
        )
        return reply.text

    def _budget(self, budget: Budget | None) -> _Budgeted:
        return _Budgeted(self.gateway, budget)


def _stored(result: RefineResult, seed_prompt: str, tree: str) -> StoredPrompt:
    """What a refinement leaves for generation to use: the adopted prompt and its evidence."""
    return StoredPrompt(
        prompt=result.adopted_prompt,
        adopted=result.adopted,
        best_prompt=result.best_prompt,
        seed_prompt=seed_prompt,
        tree=tree,
        run_id=result.run_id,
        train_pass=result.best_train_pass(),
        held_out=result.held_out_comparison,
        stop_reason=result.stop_reason,
        alternates=result.runners_up(MAX_ALTERNATES),
        usage=result.usage,
        wall_s=result.wall_s,
    )


class _Budgeted:
    """The gateway's budget for one use case (paid calls only; cache hits are free)."""

    def __init__(self, gateway: LLMGateway, budget: Budget | None) -> None:
        self.gateway, self.budget = gateway, budget

    def __enter__(self) -> None:
        self.gateway.budget = self.budget

    def __exit__(self, *exc: object) -> None:
        self.gateway.budget = None


def _function_task(root: Path, ref: str, report: MiningReport) -> RepoTask:
    """The mined task for `module:qualname`, or one made on the spot (its related tests: the
    red ones that call it, if any)."""
    module, qualname = parse_function_ref(ref)
    by_name = module_map(root, python_files(root))
    rel = Path(module) if module.endswith(".py") else by_name.get(module)
    if rel is None or not (root / rel).is_file():
        raise RepoError(f"no module {module!r} in {root}")
    try:
        find_function(parse_python((root / rel).read_text()), qualname)
    except KeyError:
        raise RepoError(f"{rel} has no top-level function or method {qualname!r}") from None
    task_id = f"{rel}::{qualname}"
    known = next((t for t in report.tasks if t.id == task_id and isinstance(t, RepoTask)), None)
    # not mined (no passing test calls it): a function written test first is checked
    # against its red tests, the ones that call it
    waiting = report.waiting.get(task_id, [])
    task = known or RepoTask(
        id=task_id,
        statement=build_statement(root, rel, qualname, by_name),
        entry_point=qualname.split(".")[-1],
        repo=RepoTarget(
            root=str(root), module=str(rel), qualname=qualname, node_ids=waiting, tree=report.tree
        ),
    )
    bank, module_of = repository_bank(report.tasks)  # for a prompt that shows examples
    (with_bank,) = with_examples([task], bank, modules=module_of)
    assert isinstance(with_bank, RepoTask)
    return with_bank
