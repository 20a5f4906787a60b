"""Host side of the sandbox: a pool of warm workers, one candidate at a time each."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import os

from .isolation import (
    Isolation,
    SandboxUnavailable,
    UidLease,
    count_processes_of,
    probe,
    uid_can_run,
    worker_command,
    worker_env,
)
from .java import java_home, launcher_source
from .models import RunOutcome, RunResult, Runtime, SandboxSettings
from .secrets import redact

# A fixed hash seed: the order of a set of strings otherwise changes with every worker
# start, and an answer like `list(set(a) & set(b))` passed or failed by chance (measured:
# one training task's verdict differed between two sessions for 7 prompts).
WORKER_ENV = {"PYTHONHASHSEED": "0"}


log = logging.getLogger("prochemy.sandbox")


class SandboxError(Exception):
    """The sandbox itself (not a candidate) failed."""


class _Worker:
    def __init__(self, slot: int, command: list[str]) -> None:
        self.slot = slot
        self.command = command
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 24,
            env=worker_env(WORKER_ENV),
        )

    async def request(self, job: dict, tests: str | None = None) -> dict:
        if self.process is None or self.process.returncode is not None:
            await self.start()
        assert self.process and self.process.stdin and self.process.stdout
        self.process.stdin.write(_frame(json.dumps(job).encode()))
        if tests is not None:  # read by the worker only after the candidate's process exists
            self.process.stdin.write(_frame(tests.encode()))
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            stderr = b""
            if self.process.stderr is not None:
                stderr = await self.process.stderr.read()
            await self.process.wait()
            self.process = None
            raise SandboxError(f"sandbox worker {self.slot} died: {stderr.decode(errors='replace')[-800:]}")
        return json.loads(line)

    async def stop(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 3)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.process = None


def _frame(data: bytes) -> bytes:
    return b"%d\n" % len(data) + data


class Sandbox:
    """Runs untrusted Python programs with limits; typed results; the tier is recorded."""

    def __init__(self, settings: SandboxSettings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.runtime = runtime or Runtime()
        self.isolation: Isolation = probe(settings.level)
        if self.isolation.downgraded:  # on every run, where the user is looking
            log.warning(self.isolation.banner)
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: list[_Worker] = []
        self._leases: list[UidLease] = []
        self._ids = itertools.count()

    @property
    def tier(self) -> str:
        return self.isolation.tier

    def _worker_config(self, uid: int | None) -> str:
        in_bwrap = self.tier == "bwrap"
        s = self.settings
        config: dict[str, object] = {
            "timeout_s": s.timeout_s,
            "cpu_s": s.cpu_s,
            "memory_mb": s.memory_mb,
            "file_size_mb": s.file_size_mb,
            "max_procs": s.max_procs,
            "output_bytes": s.output_bytes,
            # bwrap drops root itself (setpriv); the process tier drops per candidate
            "run_as_uid": uid if not in_bwrap else None,
            "nproc_base": count_processes_of(uid if uid is not None else os.getuid()),
            "preload": self.runtime.preload,
        }
        if self.runtime.repo_root:  # bwrap shows it read-only; elsewhere each run gets a copy
            config["repo_root" if in_bwrap else "copy_root"] = self.runtime.repo_root
        return json.dumps(config)

    def _lease_uid(self) -> int | None:
        """As root, a uid of this sandbox's own for one worker's candidates."""
        if os.geteuid() != 0:
            return None
        lease = UidLease()
        self._leases.append(lease)
        if self.tier == "process" and self.runtime.repo_root:
            # a repository's tests import what they like: refuse rather than run them as root
            why = uid_can_run(lease.uid, self.runtime.python, "pytest")
            if why is not None:
                raise SandboxUnavailable(
                    f"the process tier cannot run this repository's tests as an unprivileged "
                    f"user (uid {lease.uid}: {why}), and will not run them as root. Use "
                    'sandbox.level = "bwrap", or an interpreter for the tests that other '
                    "users can read (test.python)"
                )
        return lease.uid

    async def start(self) -> Sandbox:
        try:
            for slot in range(self.settings.workers):
                uid = self._lease_uid()
                command = worker_command(
                    self.tier, uid, self.settings.tmp_mb, self._worker_config(uid), self.runtime
                )
                worker = _Worker(slot, command)
                await worker.start()
                self._workers.append(worker)
                self._idle.put_nowait(worker)
        except BaseException:
            await self.close()
            raise
        return self

    def worker_pids(self) -> list[int]:
        """The live workers' process ids (each is the root of its candidates' processes)."""
        return [w.process.pid for w in self._workers if w.process is not None]

    async def run(self, program: str, timeout_s: float | None = None) -> RunResult:
        """Run a whole program in one process (it reports for itself, or passes by ending)."""
        return await self._request({"kind": "program", "program": program}, None, timeout_s)

    async def run_isolated(
        self, program: str, rel: str, qualname: str, source: str, timeout_s: float | None = None
    ) -> RunResult:
        """Run a program whose module `rel` has `qualname` stubbed, the stub's calls served
        from a separate process that imports `source` in its place (sandbox/isolate.py)."""
        candidate = {"rel": rel, "qualname": qualname, "source": source}
        return await self._request(
            {"kind": "isolated", "program": program, "candidate": candidate}, None, timeout_s
        )

    async def judge(self, solution: str, tests: str, timeout_s: float | None = None) -> RunResult:
        """Run the tests against the solution's functions, each in its own process: the
        verdict comes from the tests' process, which the candidate cannot reach."""
        return await self._request({"kind": "split", "solution": solution}, tests, timeout_s)

    async def run_java(self, sources: dict[str, str], timeout_s: float | None = None) -> RunResult:
        """Compile Java sources with the trusted launcher and run the program `Main` under it,
        with no permission (sandbox/java/Launcher.java); raises NoJdk without a usable JDK."""
        # a JVM with these flags reserves ~450 MB besides its heap (sandbox/worker.py _jvm_flags)
        heap_mb = max(32, min(self.settings.memory_mb // 2, self.settings.memory_mb - 448))
        job = {
            "kind": "java",
            "sources": {**sources, "prochemylauncher/Launcher.java": launcher_source()},
            "java_home": str(java_home()),
            "heap_mb": heap_mb,
        }
        return await self._request(job, None, timeout_s)

    async def _request(self, job: dict, tests: str | None, timeout_s: float | None) -> RunResult:
        if not self._workers:
            await self.start()
        worker = await self._idle.get()
        try:
            timeout = timeout_s or self.settings.timeout_s
            job.update(
                id=next(self._ids), timeout_s=timeout, cpu_s=max(self.settings.cpu_s, math.ceil(timeout))
            )
            try:
                raw = await worker.request(job, tests)
            except SandboxError as e:
                return RunResult(outcome=RunOutcome.ERROR, detail=redact(str(e)), tier=self.tier)
        finally:
            self._idle.put_nowait(worker)
        raw.pop("id", None)
        raw["detail"] = redact(str(raw.get("detail", "")))
        raw["output_tail"] = redact(str(raw.get("output_tail", "")))
        return RunResult(tier=self.tier, **raw)

    async def close(self) -> None:
        await asyncio.gather(*(w.stop() for w in self._workers))
        self._workers.clear()
        for lease in self._leases:
            lease.release()
        self._leases.clear()
        self._idle = asyncio.Queue()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
