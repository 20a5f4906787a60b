"""Work-done progress for a long job, or log messages where the client has no progress UI.
A client-side cancel (window/workDoneProgress/cancel) calls the job's cancel callback."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)
CREATE_TIMEOUT_S = 5.0


class ProgressReporter:
    def __init__(
        self, server: LanguageServer, title: str, on_cancel: Callable[[], object] | None = None
    ) -> None:
        self.server = server
        self.title = title
        self.on_cancel = on_cancel
        self.token: str | None = None
        caps = server.client_capabilities.window
        self.supported = bool(caps and caps.work_done_progress)

    async def begin(self, message: str = "") -> None:
        if not self.supported:
            self._log(f"started. {message}")
            return
        self.token = f"prochemy-{uuid.uuid4().hex[:12]}"
        try:
            # a client that never answers must not hold the job: fall back to log messages
            await asyncio.wait_for(self.server.work_done_progress.create_async(self.token), CREATE_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 - a client that refuses progress still gets logs
            log.warning("work done progress refused: %s", e)
            self.supported, self.token = False, None
            self._log(f"started. {message}")
            return
        future = self.server.work_done_progress.tokens.get(self.token)
        if future is not None and self.on_cancel is not None:
            on_cancel = self.on_cancel
            future.add_done_callback(lambda f: on_cancel() if f.cancelled() else None)
        self.server.work_done_progress.begin(
            self.token,
            types.WorkDoneProgressBegin(
                title=self.title, message=message, cancellable=self.on_cancel is not None, percentage=0
            ),
        )

    def report(self, message: str, percentage: int | None = None) -> None:
        if self.token is None:
            self._log(message)
            return
        self.server.work_done_progress.report(
            self.token,
            types.WorkDoneProgressReport(
                message=message, percentage=percentage, cancellable=self.on_cancel is not None
            ),
        )

    def end(self, message: str) -> None:
        if self.token is None:
            self._log(message)
            return
        self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self.server.work_done_progress.tokens.pop(self.token, None)
        self.token = None

    def _log(self, message: str) -> None:
        self.server.window_log_message(
            types.LogMessageParams(type=types.MessageType.Info, message=f"{self.title}: {message}")
        )
