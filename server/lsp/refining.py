"""Refinement as an editor job: progress, cancellation, the result told to the user."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from prochemy.optimizer.loop.refine import Progress, RefineConfig
from prochemy.optimizer.session import RepoRefinement

from .app import ProchemyServer
from .jobs import Job
from .progress import ProgressReporter


def describe_progress(p: Progress) -> tuple[str, int | None]:
    if p.phase in ("mining", "screening", "synthesis"):
        return f"{p.phase}: {p.message}", None
    best = "" if p.best_plain is None else f" · best {100 * p.best_plain:.0f}%"
    percentage = int(100 * p.k / p.k_max) if p.k_max else None
    if p.phase == "held-out":
        return f"held-out check: seed vs refined · {p.tokens:,} tokens", percentage
    if p.phase == "done":
        return f"done ({p.message}) · {p.tokens:,} tokens", 100
    return f"iteration {p.k}/{p.k_max} {p.message}{best} · {p.tokens:,} tokens", percentage


def summary(done: RepoRefinement) -> str:
    cmp = done.result.held_out_comparison
    versus = (
        f"held-out tests: refined {cmp.best_passed}/{cmp.tasks} vs seed {cmp.seed_passed}/{cmp.tasks}"
        if cmp
        else "no held-out comparison"
    )
    why = done.result.why_seed_kept()
    verdict = "refined prompt adopted" if why is None else f"seed prompt kept ({why})"
    return f"{verdict}; {versus}; {len(done.mining.tasks)} tasks mined; run {done.result.run_id}"


def start_refine(server: ProchemyServer, root: Path, kind: str = "refine") -> Job:
    """One refinement per project: a second request joins the running one."""
    running = server.jobs.running_refine(root)
    if running is not None:
        if kind == "refine" and running.info.kind == "background-refine":
            running.info.kind = "refine"  # an explicit request now owns it
        return running

    async def work(job: Job) -> str:
        reporter = ProgressReporter(
            server, f"Prochemy: refining the prompt for {root.name}", on_cancel=job.cancel
        )
        await reporter.begin("mining tasks from the tests")
        try:  # everything after begin is inside: whatever fails, the progress ends
            e = server.settings(root).editor
            async with server.session(root) as session:
                done = await session.refine_repository(
                    root,
                    RefineConfig(
                        n=e.n,
                        k_max=e.k_max,
                        patience=e.patience,
                        reflect=e.reflect,
                        structure=e.structure,
                        race_batch=e.race,
                        accept_p=e.accept_p,
                        screen=e.screen,
                    ),
                    k_real=e.k_real,
                    k_synthetic=e.k_synthetic,
                    held_out_limit=e.held_out,
                    on_progress=lambda p: reporter.report(*describe_progress(p)),
                )
        except asyncio.CancelledError:
            reporter.end("cancelled (answers already paid for are kept in the cache)")
            raise
        except Exception as error:
            reporter.end(f"failed: {error}")
            server.failures.report(error)
            raise
        message = summary(done)
        reporter.end(message)
        server.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Info, message=f"Prochemy ({root.name}): {message}")
        )
        return message

    return server.jobs.start(kind, root, work)
