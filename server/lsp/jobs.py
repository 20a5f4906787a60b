"""Background jobs of the language server: one refinement per project at a time (a second
request joins it), cancellable, with their state kept for `prochemy.status`."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

log = logging.getLogger(__name__)


KEEP_FINISHED = 20  # what status lists of past jobs


class JobInfo(BaseModel):
    id: str
    kind: str  # "refine", "background-refine", "generate"
    root: str
    state: str = "running"  # running, done, failed, cancelled
    message: str = ""
    started: float
    ended: float | None = None


class Job:
    def __init__(self, info: JobInfo) -> None:
        self.info = info
        self.task: asyncio.Task[Any] | None = None

    def cancel(self) -> bool:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            return True
        return False


class JobManager:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.jobs: dict[str, Job] = {}

    def running_refine(self, root: Path) -> Job | None:
        return next(
            (
                j
                for j in self.jobs.values()
                if j.info.root == str(root) and j.info.kind.endswith("refine") and j.info.state == "running"
            ),
            None,
        )

    def explicit_running(self) -> bool:
        return any(
            j.info.state == "running" and j.info.kind != "background-refine" for j in self.jobs.values()
        )

    def start(self, kind: str, root: Path, work: Callable[[Job], Awaitable[str]]) -> Job:
        """Run `work` as a task; its return value is the job's final message."""
        job = Job(JobInfo(id=f"{kind}-{next(self._ids)}", kind=kind, root=str(root), started=time.time()))
        self.jobs[job.info.id] = job
        self._prune()

        async def run() -> None:
            try:
                job.info.message = await work(job)
                job.info.state = "done"
            except asyncio.CancelledError:
                job.info.state, job.info.message = "cancelled", "cancelled"
            except Exception as e:  # noqa: BLE001 - reported by `work`; kept for status
                job.info.state, job.info.message = "failed", str(e)
                log.debug("job %s failed", job.info.id, exc_info=True)
            finally:
                job.info.ended = time.time()

        job.task = asyncio.ensure_future(run())
        return job

    def _prune(self) -> None:
        """Keep every running job and the last KEEP_FINISHED finished ones."""
        finished = [k for k, j in self.jobs.items() if j.info.state != "running"]
        for key in finished[:-KEEP_FINISHED]:
            del self.jobs[key]

    def cancel(self, job_id: str | None = None) -> list[str]:
        """Cancel one job, or every running one; the ids actually cancelled."""
        chosen = (
            [self.jobs[job_id]]
            if job_id in self.jobs
            else (list(self.jobs.values()) if job_id is None else [])
        )
        return [j.info.id for j in chosen if j.cancel()]

    async def shutdown(self) -> None:
        self.cancel()
        tasks = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    def status(self) -> list[dict[str, Any]]:
        return [j.info.model_dump() for j in self.jobs.values()]
