"""One actionable window/showMessage per kind of failure, then quiet; every occurrence
goes to window/logMessage and the log file."""

from __future__ import annotations

import logging

from lsprotocol import types
from prochemy.optimizer.config import ConfigError
from prochemy.optimizer.llm.gateway import GatewayError
from prochemy.optimizer.llm.llama_server import ServerError
from prochemy.optimizer.llm.local_model import ModelMissing
from prochemy.optimizer.tasks.repo_env import RepoError
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)


def kind_of(error: BaseException) -> str:
    if isinstance(error, GatewayError):
        return f"endpoint:{error.kind}"
    if isinstance(error, ModelMissing):
        return "model-missing"
    if isinstance(error, ServerError):
        return "model-server"
    if isinstance(error, RepoError):
        return "repository"
    if isinstance(error, ConfigError):
        return "configuration"
    return f"internal:{type(error).__name__}"


class FailureReporter:
    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self.shown: set[str] = set()

    def report(
        self,
        error: BaseException | str,
        kind: str | None = None,
        level: types.MessageType = types.MessageType.Error,
    ) -> None:
        kind = kind or (kind_of(error) if isinstance(error, BaseException) else "other")
        text = f"Prochemy: {error}"
        log.error(
            "%s: %s", kind, error, exc_info=isinstance(error, BaseException) and kind.startswith("internal")
        )
        self.server.window_log_message(types.LogMessageParams(type=level, message=text))
        if kind not in self.shown:
            self.shown.add(kind)
            self.server.window_show_message(types.ShowMessageParams(type=level, message=text))

    def reset(self) -> None:
        """After a configuration change, a backend failure is worth showing again."""
        self.shown = {k for k in self.shown if not k.startswith(("endpoint:", "model-"))}
