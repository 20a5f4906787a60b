"""The language server object: per-workspace settings, jobs, failure reporting, logging.
Features live in their own modules and are registered on it by server/lsp/setup.py; they
import this module, and nothing here imports them (no cycle)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from prochemy.optimizer.repo_models import ProjectState
from prochemy.optimizer.session import Session
from prochemy.sandbox.isolation import probe
from pygls.lsp.server import LanguageServer

from prochemy import __version__

from ..settings import FrontEndSettings, front_end
from .failures import FailureReporter
from .jobs import JobManager
from .settings import settings_for
from .workspace import OutsideWorkspace, fs_path

TREE_TTL_S = 30.0
log = logging.getLogger("prochemy.lsp")


class ProchemyServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("prochemy-lsp", __version__)
        self.options: dict[str, Any] = {}  # the editor's settings, as last received
        self.jobs = JobManager()
        self.failures = FailureReporter(self)
        self.dont_ask: set[str] = set()  # roots whose "refine now?" question was declined for good
        self.watching = False  # the client registered our test-file watchers
        self.debounce: dict[str, asyncio.TimerHandle] = {}  # root -> pending "tests changed"
        self.log_file: Path | None = None
        self._reported: set[str] = set()
        self._trees: dict[str, tuple[float, str]] = {}  # root -> (when, fingerprint)
        # folder -> effective settings: the layers are read once, again after a change of
        # the editor's settings or of a watched file (a project's pyproject.toml)
        self._settings: dict[str, FrontEndSettings] = {}

    def roots(self) -> list[Path]:
        folders = list(self.workspace.folders.values())
        if folders:
            return [fs_path(f.uri) for f in folders]
        root = self.workspace.root_path
        return [Path(root)] if root else []

    def root_for(self, uri: str | None = None) -> Path:
        """The workspace folder holding `uri` (or the first folder); OutsideWorkspace for
        anything else, so no request can make us read, run or write outside them."""
        roots = [r.resolve() for r in self.roots()]
        if not roots:
            raise OutsideWorkspace("no workspace folder is open: open the project's folder")
        if not uri:
            return roots[0]
        path = self.confine(uri)
        return max((r for r in roots if r == path or r in path.parents), key=lambda r: len(r.parts))

    def confine(self, where: str) -> Path:
        """A file: URI or an absolute path, resolved, if it lies inside a workspace folder."""
        try:
            path = fs_path(where) if where.startswith("file:") else Path(where)
            if not path.is_absolute():
                raise OutsideWorkspace(f"{where!r} is neither a file:// URI nor an absolute path")
            path = path.resolve()
        except (OSError, ValueError, TypeError) as e:
            if isinstance(e, OutsideWorkspace):
                raise
            raise OutsideWorkspace(f"{where[:200]!r} is not a usable path ({e})") from None
        roots = [r.resolve() for r in self.roots()]
        if not any(r == path or r in path.parents for r in roots):
            shown = ", ".join(str(r) for r in roots) or "none open"
            raise OutsideWorkspace(
                f"{path} is outside the workspace folders ({shown}); Prochemy "
                "reads, runs and writes only inside them"
            )
        return path

    def state(self, root: Path) -> ProjectState:
        """The project's stored prompt and staleness, cheap enough to poll: the tree is
        walked at most every TREE_TTL_S, and again after any save or watched change."""
        settings = self.settings(root)
        known = self._trees.get(str(root))
        fresh = known is not None and time.monotonic() - known[0] < TREE_TTL_S
        with Session(settings) as session:
            state = session.project_state(root, known[1] if fresh and known else None)
        if not fresh:
            self._trees[str(root)] = (time.monotonic(), state.tree)
        return state

    def session(self, root: Path) -> Session:
        """The application layer, with this folder's effective settings."""
        return Session(self.settings(root))

    def files_changed(self) -> None:
        self._trees.clear()
        self._settings.clear()

    def settings(self, root: Path | None) -> FrontEndSettings:
        """Effective settings for a folder; each bad editor setting is reported once."""
        key = str(root) if root is not None else ""
        if key not in self._settings:
            loaded, problems = settings_for(root, self.options)
            for problem in problems:
                if problem not in self._reported:  # once per distinct problem, for the session
                    self._reported.add(problem)
                    self.failures.report(
                        f"setting {problem}", kind=f"config:{problem}", level=types.MessageType.Warning
                    )
            self._settings[key] = front_end(loaded.settings)
        return self._settings[key]

    def set_options(self, options: Any) -> None:
        self.options = options if isinstance(options, dict) else {}
        self._settings.clear()
        log.info("editor settings: %s", sorted(self.options))
        self.failures.reset()  # a failure is worth showing again after a change; a bad setting is not
        self.settings(self.roots()[0] if self.roots() else None)  # report bad values now

    def check_sandbox(self) -> None:
        """Say once when generated code will run in the weaker process tier."""
        roots = self.roots()
        isolation = probe(self.settings(roots[0] if roots else None).sandbox.level)
        if isolation.tier != "bwrap":
            self.failures.report(
                f"generated code runs in the weaker sandbox tier '{isolation.tier}': {isolation.reason}",
                kind="sandbox-tier",
                level=types.MessageType.Warning,
            )
