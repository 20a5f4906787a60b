"""workspace/executeCommand: prochemy.refinePrompt, generate, translate, showPrompt, cancel,
clearCache, doctor, status. Handlers validate their arguments and call the features."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any, Literal

from lsprotocol import types
from prochemy.sandbox.isolation import SandboxUnavailable, probe
from pydantic import BaseModel, Field, ValidationError
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import from_fs_path

from .app import ProchemyServer
from .implementing import implement_and_apply
from .refining import start_refine
from .reports import doctor_report, prompt_report
from .translating import translate_to_new_file
from .workspace import OutsideWorkspace


class RootArgs(BaseModel):
    root: str | None = None  # a folder path or file:// URI; default: the first workspace folder


class PositionArgs(BaseModel):
    uri: str
    line: int  # 0-based
    check: bool = True
    # keep the best failing candidate when none passes its related tests
    apply_failing: bool = Field(False, alias="applyFailing")


class PositionJson(BaseModel):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class RangeJson(BaseModel):
    start: PositionJson
    end: PositionJson

    def to_lsp(self) -> types.Range:
        return types.Range(
            start=types.Position(line=self.start.line, character=self.start.character),
            end=types.Position(line=self.end.line, character=self.end.character),
        )


class TranslateArgs(BaseModel):
    uri: str
    to: Literal["python", "java"]
    range: RangeJson | None = None  # default: the whole file


class JobArgs(BaseModel):
    job_id: str | None = None  # default: every running job


def parse(model: type[BaseModel], args: tuple[Any, ...]) -> Any:
    """Arguments come as one object (or nothing); anything else is a JSON-RPC error."""
    if len(args) > 1 or (args and not isinstance(args[0], dict)):
        raise JsonRpcInvalidParams(
            f"expected one object argument like {model.model_json_schema()['properties']}"
        )
    try:
        return model.model_validate(args[0] if args else {})
    except ValidationError as e:
        raise JsonRpcInvalidParams(
            f"invalid arguments: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}"
        ) from None


def _root(server: ProchemyServer, given: str | None) -> Path:
    """The project folder a command is about: a workspace folder, or a folder inside one."""
    try:
        if given is None:
            return server.root_for(None)
        path = server.confine(given)
    except OutsideWorkspace as e:
        raise JsonRpcInvalidParams(str(e)) from None
    if not path.is_dir():
        raise JsonRpcInvalidParams(f"{path} is not a folder")
    return path


def _confined(server: ProchemyServer, uri: str) -> str:
    """A document command's URI, refused as invalid params when outside the workspace."""
    try:
        server.confine(uri)
    except OutsideWorkspace as e:
        raise JsonRpcInvalidParams(str(e)) from None
    return uri


def _sandbox(server: ProchemyServer, root: Path) -> dict:
    """The tier in force, in every status: the weaker one is never entered unseen."""
    try:
        isolation = probe(server.settings(root).sandbox.level)
    except SandboxUnavailable as e:
        return {"tier": None, "problem": str(e)}
    return {"tier": isolation.tier, "downgraded": isolation.downgraded, "reason": isolation.reason}


def register(server: ProchemyServer) -> None:
    @server.command("prochemy.refinePrompt")
    def refine_prompt(ls: ProchemyServer, *args: Any) -> dict:
        job = start_refine(ls, _root(ls, parse(RootArgs, args).root))
        return {"jobId": job.info.id}

    @server.command("prochemy.generate")
    async def generate(ls: ProchemyServer, *args: Any) -> dict:
        a = parse(PositionArgs, args)
        uri = _confined(ls, a.uri)
        return await implement_and_apply(ls, uri, a.line, check=a.check, apply_failing=a.apply_failing)

    @server.command("prochemy.translate")
    async def translate(ls: ProchemyServer, *args: Any) -> dict:
        a = parse(TranslateArgs, args)
        selection = None if a.range is None else a.range.to_lsp()
        return await translate_to_new_file(ls, _confined(ls, a.uri), a.to, selection)

    @server.command("prochemy.showPrompt")
    async def show_prompt(ls: ProchemyServer, *args: Any) -> dict:
        root = _root(ls, parse(RootArgs, args).root)
        settings = ls.settings(root)
        text = prompt_report(await asyncio.to_thread(ls.state, root))
        # named after the folder and a hash of its path: two projects named alike stay apart
        digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
        path = settings.cache_dir / "prompts" / f"{root.name}-{digest}-prompt.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        shown = False
        caps = ls.client_capabilities.window
        if caps and caps.show_document and caps.show_document.support:
            result = await ls.window_show_document_async(
                types.ShowDocumentParams(uri=from_fs_path(str(path)), take_focus=True)
            )
            shown = result.success
        if not shown:
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=text))
        return {"path": str(path), "text": text}

    @server.command("prochemy.cancel")
    def cancel(ls: ProchemyServer, *args: Any) -> dict:
        return {"cancelled": ls.jobs.cancel(parse(JobArgs, args).job_id)}

    @server.command("prochemy.clearCache")
    def clear_cache(ls: ProchemyServer, *args: Any) -> dict:
        with ls.session(_root(ls, parse(RootArgs, args).root)) as session:
            counts = session.clear_caches()
        ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info, message=f"Prochemy: cleared {counts} (stored prompts kept)"
            )
        )
        return counts

    @server.command("prochemy.doctor")
    async def doctor(ls: ProchemyServer, *args: Any) -> dict:
        root = _root(ls, parse(RootArgs, args).root)
        text = await doctor_report(ls, root)
        ls.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=text))
        return {"text": text}

    @server.command("prochemy.status")
    async def status(ls: ProchemyServer, *args: Any) -> dict:
        root = _root(ls, parse(RootArgs, args).root)
        state = await asyncio.to_thread(ls.state, root)
        current = state.record.current if state.record else None
        return {
            "jobs": ls.jobs.status(),
            "root": str(root),
            "sandbox": _sandbox(ls, root),
            # the repository's .prochemy/prompt.toml ("refined"/"seed"), used before the user's own
            "projectFile": state.shared,
            "prompt": None
            if current is None
            else {
                "adopted": current.adopted,
                "stale": state.stale,
                "run_id": current.run_id,
                "held_out": None if current.held_out is None else current.held_out.model_dump(),
            },
        }
