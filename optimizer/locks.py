"""Cross-process locks per project: one mining or refinement of a project at a time, across
editor requests, language servers and CLI runs. The second waits, then finds the first's
work in the caches (mining results, answers, outcomes) and pays for nothing twice."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

POLL_S = 0.2


@asynccontextmanager
async def project_lock(cache_dir: Path, *key: str) -> AsyncIterator[None]:
    """flock on a file named after the key; polled, so waiting never blocks the event loop
    and a cancelled waiter simply stops waiting."""
    folder = cache_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256("\0".join(key).encode()).hexdigest()[:32]
    fd = os.open(folder / f"{name}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(POLL_S)
        yield
    finally:
        os.close(fd)  # releases the lock
