"""The language server object: per-workspace settings, jobs, failure reporting, logging.
Features live in their own modules and register themselves on it (see `create_server`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from prochemy.optimizer.config import Settings
from prochemy.sandbox.isolation import probe

from .failures import FailureReporter
from .jobs import JobManager
from .lsp_settings import settings_for

VERSION = "0.1.0"
log = logging.getLogger("prochemy.lsp")


class ProchemyServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("prochemy-lsp", VERSION)
        self.options: dict[str, Any] = {}  # the editor's settings, as last received
        self.jobs = JobManager()
        self.failures = FailureReporter(self)
        self.dont_ask: set[str] = set()  # roots whose "refine now?" question was declined for good
        self.watching = False  # the client registered our test-file watchers
        self.debounce: dict[str, asyncio.TimerHandle] = {}  # root -> pending "tests changed"
        self.log_file: Path | None = None
        self._reported: set[str] = set()

    def roots(self) -> list[Path]:
        folders = list(self.workspace.folders.values())
        if folders:
            return [Path(to_fs_path(f.uri)) for f in folders]
        root = self.workspace.root_path
        return [Path(root)] if root else []

    def root_for(self, uri: str | None = None) -> Path:
        """The workspace folder holding `uri` (or the first folder)."""
        roots = self.roots()
        if uri:
            path = Path(to_fs_path(uri))
            inside = [r for r in roots if r == path or r in path.parents]
            if inside:
                return max(inside, key=lambda r: len(r.parts))
            return path.parent
        if not roots:
            raise ValueError("no workspace folder is open")
        return roots[0]

    def settings(self, root: Path | None) -> Settings:
        """Effective settings for a folder; each bad editor setting is reported once."""
        loaded, problems = settings_for(root, self.options)
        for problem in problems:
            if problem not in self._reported:  # once per distinct problem, for the session
                self._reported.add(problem)
                self.failures.report(f"setting {problem}", kind=f"config:{problem}",
                                     level=types.MessageType.Warning)
        return loaded.settings

    def set_options(self, options: Any) -> None:
        self.options = options if isinstance(options, dict) else {}
        log.info("editor settings: %s", sorted(self.options))
        self.failures.reset()  # a failure is worth showing again after a change; a bad setting is not
        self.settings(self.roots()[0] if self.roots() else None)  # report bad values now


    def check_sandbox(self) -> None:
        """Say once when generated code will run in the weaker process tier."""
        roots = self.roots()
        isolation = probe(self.settings(roots[0] if roots else None).sandbox.level)
        if isolation.tier != "bwrap":
            self.failures.report(f"generated code runs in the weaker sandbox tier '{isolation.tier}': "
                                 f"{isolation.reason}", kind="sandbox-tier", level=types.MessageType.Warning)


def create_server() -> ProchemyServer:
    from . import commands, editing, lifecycle, watching

    server = ProchemyServer()
    for module in (lifecycle, commands, editing, watching):
        module.register(server)
    return server
