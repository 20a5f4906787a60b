"""Refine again when test files change: watched files where the client can register them,
else didSave of a test file; debounced; in the background when enabled, otherwise the user
is asked once the stored prompt is stale."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from lsprotocol import types
from prochemy.optimizer.tasks.repo_env import is_test_file

from .app import ProchemyServer
from .refining import start_refine
from .workspace import fs_path

log = logging.getLogger(__name__)
TEST_GLOBS = ["**/test_*.py", "**/*_test.py", "**/tests/**/*.py", "**/conftest.py"]
REFINE_NOW, LATER, NEVER = "Refine now", "Later", "Don't ask again"


async def register_watchers(server: ProchemyServer) -> None:
    workspace = server.client_capabilities.workspace
    dynamic = (
        workspace
        and workspace.did_change_watched_files
        and workspace.did_change_watched_files.dynamic_registration
    )
    if not dynamic:
        return  # Neovim on Linux: didSave of a test file is the trigger
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern=g) for g in TEST_GLOBS]
    )
    try:
        await server.client_register_capability_async(
            types.RegistrationParams(
                registrations=[
                    types.Registration(
                        id="prochemy-test-files",
                        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                        register_options=options,
                    )
                ]
            )
        )
        server.watching = True
    except Exception as e:  # noqa: BLE001 - the didSave fallback still works
        log.warning("could not register file watchers: %s", e)


def _is_test(server: ProchemyServer, uri: str) -> Path | None:
    path = fs_path(uri)
    root = server.root_for(uri)
    try:
        return root if is_test_file(path.relative_to(root)) else None
    except ValueError:
        return None


def schedule(server: ProchemyServer, root: Path) -> None:
    delay = server.settings(root).editor.debounce_s
    if (old := server.debounce.pop(str(root), None)) is not None:
        old.cancel()
    loop = asyncio.get_running_loop()
    server.debounce[str(root)] = loop.call_later(
        delay, lambda: asyncio.ensure_future(tests_changed(server, root))
    )


async def tests_changed(server: ProchemyServer, root: Path) -> None:
    server.debounce.pop(str(root), None)
    settings = server.settings(root)
    if settings.editor.background_refine:
        if server.jobs.explicit_running():  # explicit requests first: try again later
            schedule(server, root)
            return
        start_refine(server, root, kind="background-refine")
        return
    server.files_changed()  # the tree is walked afresh
    state = await asyncio.to_thread(server.state, root)
    if not state.stale or str(root) in server.dont_ask:
        return
    answer = await server.window_show_message_request_async(
        types.ShowMessageRequestParams(
            type=types.MessageType.Info,
            message=f"Prochemy: the tests of {root.name} changed since its prompt was refined. Refine again?",
            actions=[types.MessageActionItem(title=t) for t in (REFINE_NOW, LATER, NEVER)],
        )
    )
    if answer is not None and answer.title == REFINE_NOW:
        start_refine(server, root)
    elif answer is not None and answer.title == NEVER:
        server.dont_ask.add(str(root))


def register(server: ProchemyServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(ls: ProchemyServer, params: types.DidChangeWatchedFilesParams) -> None:
        ls.files_changed()
        for root in {r for c in params.changes if (r := _is_test(ls, c.uri)) is not None}:
            schedule(ls, root)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def saved(ls: ProchemyServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.files_changed()
        if (root := _is_test(ls, params.text_document.uri)) is not None:
            schedule(ls, root)
