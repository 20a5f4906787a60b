"""The other embedded model as the mutator (and reflector) of a benchmark run: its own
llama-server on a free port, used only for the mutation role, stopped when the run ends.
The task model is the configured one; the mutator writes prompt variants and reflections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prochemy.optimizer.config import Endpoint, Settings
from prochemy.optimizer.llm.llama_server import LlamaServer
from prochemy.optimizer.llm.local_model import require_model_file

SIZES = {"default": "1.5b", "small": "0.5b"}  # model.choice -> the name results use


@asynccontextmanager
async def with_mutator(settings: Settings, choice: str | None) -> AsyncIterator[Settings]:
    """`settings` with the mutation role served by the embedded model `choice`; unchanged when
    `choice` is None or the task model itself."""
    if choice is None or choice == settings.model.choice:
        yield settings
        return
    other = settings.model_copy(update={"model": settings.model.model_copy(update={"choice": choice})})
    server = LlamaServer(
        require_model_file(other), settings.cache_dir / "logs", parallel=settings.model.parallel
    )
    server.start()
    try:
        while not await asyncio.to_thread(server.poll_ready):
            await asyncio.sleep(0.5)
        yield settings.model_copy(update={"mutation": Endpoint(base_url=server.base_url, model=server.alias)})
    finally:
        server.stop()
