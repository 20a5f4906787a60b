"""Code actions ("Implement with the refined prompt", or "... the seed prompt" until a
refinement is adopted, on a stub; resolved lazily) and inline completion (explicit
invocations; automatic triggers only when enabled)."""

from __future__ import annotations

import asyncio
import ctypes
import gc
from pathlib import Path

from lsprotocol import types
from prochemy.optimizer.tasks.functions import function_at

from .app import ProchemyServer
from .implementing import (
    UserError,
    function_text,
    implement_at,
    tell,
    warn,
    warn_not_applied,
    whole_document_edit,
)
from .translating import translate_actions
from .workspace import OutsideWorkspace

try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc: nothing to trim
    _LIBC = None
MAX_PARSE_CHARS = 512_000  # larger buffers are not parsed per request (1.9 MB took 9 s)


def title(ls: ProchemyServer, root: Path) -> str:
    """Says which prompt will write the code: never "refined" when only the seed exists."""
    state = ls.state(root)
    record = state.record
    # the project's committed prompt, when there is one for this model, is what writes the code
    adopted = (
        state.shared == "refined"
        if state.shared
        else record is not None and record.current.adopted == "refined"
    )
    return f"Implement with the {'refined' if adopted else 'seed'} prompt"


def _supports_resolve(server: ProchemyServer) -> bool:
    doc = server.client_capabilities.text_document
    support = doc and doc.code_action and doc.code_action.resolve_support
    return bool(support and "edit" in support.properties)


def register(server: ProchemyServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.RefactorRewrite], resolve_provider=True
        ),
    )
    async def code_actions(
        ls: ProchemyServer, params: types.CodeActionParams
    ) -> list[types.CodeAction | types.Command]:
        try:
            root = ls.root_for(params.text_document.uri)
        except OutsideWorkspace:
            return []  # a file outside the workspace: nothing to offer
        # translations are commands too: nothing runs until one is chosen
        translations: list[types.CodeAction | types.Command] = list(
            translate_actions(params.text_document.uri, params.range)
        )
        source = ls.workspace.get_text_document(params.text_document.uri).source
        if len(source) > MAX_PARSE_CHARS or not params.text_document.uri.endswith(".py"):
            return translations
        # parsing and the prompt lookup run off the event loop: other requests go on
        span = await asyncio.to_thread(function_at, source, params.range.start.line)
        if span is None or not span.is_stub:
            return translations
        name = await asyncio.to_thread(title, ls, root)
        data = {"uri": params.text_document.uri, "line": params.range.start.line}
        if _supports_resolve(ls):
            return [
                types.CodeAction(title=name, kind=types.CodeActionKind.RefactorRewrite, data=data)
            ] + translations
        # no lazy resolve: a plain command, run only when chosen (never an LLM call per request)
        return [types.Command(title=name, command="prochemy.generate", arguments=[data])] + translations

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def closed(ls: ProchemyServer, params: types.DidCloseTextDocumentParams) -> None:
        # pygls has dropped the document; give its memory back to the system (glibc keeps
        # freed large blocks otherwise: a 5 MB buffer left the server 20 MB larger)
        gc.collect()
        if _LIBC is not None:
            _LIBC.malloc_trim(0)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: ProchemyServer, action: types.CodeAction) -> types.CodeAction:
        data = action.data or {}
        try:
            outcome = await implement_at(ls, data["uri"], int(data["line"]))
        except (UserError, KeyError, TypeError) as e:
            warn(ls, e)
            return action
        except Exception as e:
            ls.failures.report(e)
            return action
        if outcome.passed is False:  # only a verified pass edits the buffer from a code action
            warn_not_applied(ls, outcome)
            return action
        action.edit = whole_document_edit(ls, data["uri"], outcome.new_source)
        tell(ls, outcome)
        return action

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline(
        ls: ProchemyServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        uri = params.text_document.uri
        explicit = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        try:
            if not explicit and not ls.settings(ls.root_for(uri)).editor.inline_on_typing:
                return None
            outcome = await implement_at(ls, uri, params.position.line, check=False)
        except UserError:
            return None
        except Exception as e:
            ls.failures.report(e)
            return None
        text, old = function_text(outcome)
        return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=text, range=old)])
