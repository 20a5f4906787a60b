"""Translate a selection or a whole file between Java and Python into a new file beside it:
the source is never overwritten, and the new file is opened when the client can."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from lsprotocol import types
from prochemy.optimizer.tasks.model import Language
from prochemy.optimizer.tasks.translation import NAMES, language_of, translation_path
from pygls.uris import from_fs_path

from .app import ProchemyServer
from .implementing import UserError, warn
from .progress import ProgressReporter
from .workspace import OutsideWorkspace, fs_path


def translate_actions(uri: str, selection: types.Range) -> list[types.Command]:
    """What the code-action menu offers: a Java file (or a selection in it) to Python; a
    Python selection to Java (not every Python cursor: implementing is the usual action there)."""
    try:
        language = language_of(Path(fs_path(uri)))
    except ValueError:
        return []
    selected = selection.start != selection.end
    if language == "python" and not selected:
        return []
    target: Language = "python" if language == "java" else "java"
    what = "selection" if selected else "file"
    arguments = [{"uri": uri, "to": target, **({"range": _range_json(selection)} if selected else {})}]
    return [
        types.Command(
            title=f"Translate {what} to {NAMES[target]}", command="prochemy.translate", arguments=arguments
        )
    ]


def _range_json(r: types.Range) -> dict:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def _selected_text(lines: Sequence[str], r: types.Range) -> str:
    if r.start.line == r.end.line:
        return lines[r.start.line][r.start.character : r.end.character] if r.start.line < len(lines) else ""
    head = lines[r.start.line][r.start.character :]
    middle = lines[r.start.line + 1 : r.end.line]
    tail = lines[r.end.line][: r.end.character] if r.end.line < len(lines) else ""
    return "".join([head, *middle, tail])


async def translate_to_new_file(
    server: ProchemyServer, uri: str, target: Language, selection: types.Range | None
) -> dict:
    """Translate, write the answer into a new file beside the source, open it."""
    reporter = ProgressReporter(server, f"Prochemy: translating to {NAMES[target]}")
    source_path = Path(fs_path(uri))
    try:
        root = server.root_for(uri)
        source_language = language_of(source_path)
        doc = server.workspace.get_text_document(uri)
        text = doc.source if selection is None else _selected_text(doc.lines, selection)
        if not text.strip():
            raise UserError("nothing to translate: the selection is empty")
        await reporter.begin(source_path.name)
        async with server.session(root) as session:
            made = await session.translate(text, source_language, target, source_path.name)
    except (UserError, OutsideWorkspace, ValueError) as e:
        reporter.end(str(e))
        warn(server, e)
        return {"created": False, "error": str(e)}
    except Exception as e:
        reporter.end(f"failed: {e}")
        server.failures.report(e)
        return {"created": False, "error": str(e)}
    destination = await asyncio.to_thread(translation_path, source_path, target)
    new_uri = from_fs_path(str(destination)) or destination.as_uri()
    edit = types.WorkspaceEdit(
        document_changes=[
            types.CreateFile(
                uri=new_uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=False)
            ),
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=new_uri, version=None),
                edits=[
                    types.TextEdit(
                        range=types.Range(
                            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
                        ),
                        new_text=made.code.rstrip("\n") + "\n",
                    )
                ],
            ),
        ]
    )
    applied = await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=edit, label=f"Translate {source_path.name} to {NAMES[target]}")
    )
    reporter.end(f"written to {destination.name}" if applied.applied else "the editor refused the new file")
    caps = server.client_capabilities.window
    if applied.applied and caps and caps.show_document and caps.show_document.support:
        await server.window_show_document_async(types.ShowDocumentParams(uri=new_uri, take_focus=True))
    return {
        "created": applied.applied,
        "uri": new_uri,
        "path": str(destination),
        "prompt": "translation seed",
        "tokens": made.completion_tokens,
    }
