"""Implement the function at a position with the project's stored prompt: the code, the
related tests' verdict, and the workspace edit that puts it in the buffer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types
from prochemy.optimizer.guided import Attempt, describe_attempt
from prochemy.optimizer.repo_models import Implementation
from prochemy.optimizer.tasks.functions import FunctionSpan, function_at, functions_in
from pydantic import BaseModel

from .app import ProchemyServer
from .progress import ProgressReporter
from .workspace import OutsideWorkspace, fs_path


class UserError(Exception):
    """The request cannot be served as asked; the message says why."""


class Implemented(BaseModel):
    qualname: str
    tests: str  # "passed", "failed: ...", "not run: ..."
    passed: bool | None
    prompt: str  # where the prompt came from
    candidates: int = 1  # how many were tried
    new_source: str
    span: FunctionSpan  # where the function was in the buffer


def locate(server: ProchemyServer, uri: str, line: int) -> tuple[Path, Path, str, FunctionSpan]:
    doc = server.workspace.get_text_document(uri)
    span = function_at(doc.source, line)
    if span is None:
        raise UserError(f"no function or method at line {line + 1} of {fs_path(uri).name}")
    try:
        root = server.root_for(uri)
    except OutsideWorkspace as e:
        raise UserError(str(e)) from None
    rel = fs_path(uri).resolve().relative_to(root)
    return root, rel, doc.source, span


async def implement_at(
    server: ProchemyServer,
    uri: str,
    line: int,
    check: bool = True,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> Implemented:
    root, rel, source, span = locate(server, uri, line)
    async with server.session(root) as session:
        impl: Implementation = await session.implement(
            root, rel, source, span.qualname, check=check, on_attempt=on_attempt
        )
    if impl.new_source is None:
        raise UserError(f"the model's answer for {span.qualname} could not be used: {impl.problem}")
    made = impl.made
    if made.check is not None:
        passed: bool | None = made.check.passed
        tests = "passed" if passed else f"{made.check.outcome.value}: {made.check.detail}"
    else:
        passed, tests = None, f"not run ({made.check_note or 'not asked'})"
    prompt = made.prompt_source + (" - stale, the tests changed since" if made.stale else "")
    return Implemented(
        qualname=span.qualname,
        tests=tests,
        passed=passed,
        prompt=prompt,
        candidates=len(made.guided.attempts) if made.guided is not None else 1,
        new_source=impl.new_source,
        span=span,
    )


def whole_document_edit(server: ProchemyServer, uri: str, new_source: str) -> types.WorkspaceEdit:
    doc = server.workspace.get_text_document(uri)
    end = types.Position(line=len(doc.lines), character=0)
    edit = types.TextEdit(
        range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=new_source
    )
    return types.WorkspaceEdit(changes={uri: [edit]})


def function_text(outcome: Implemented) -> tuple[str, types.Range]:
    """The new function's text and the range of the old one (for inline completion)."""
    new = next(s for s in functions_in(outcome.new_source) if s.qualname == outcome.qualname)
    lines = outcome.new_source.splitlines(keepends=True)
    text = "".join(lines[new.first_line : new.last_line + 1])
    old = types.Range(
        start=types.Position(line=outcome.span.first_line, character=0),
        end=types.Position(line=outcome.span.last_line + 1, character=0),
    )
    return text, old


def tell(server: ProchemyServer, outcome: Implemented) -> None:
    """Which prompt wrote the function and whether its related tests passed."""
    level = types.MessageType.Info if outcome.passed is not False else types.MessageType.Warning
    server.window_show_message(
        types.ShowMessageParams(
            type=level,
            message=(
                f"Prochemy: {outcome.qualname} written with the {outcome.prompt} prompt; "
                f"related tests {outcome.tests}"
                + (f" (best of {outcome.candidates} candidates)" if outcome.candidates > 1 else "")
            ),
        )
    )


def warn_not_applied(server: ProchemyServer, outcome: Implemented, hint: str = "") -> None:
    """No candidate passed: the buffer stays as it was, and the user hears why."""
    warn(
        server,
        UserError(
            f"{outcome.qualname} not changed: none of {outcome.candidates} candidates passed its "
            f"related tests ({outcome.tests}){hint}"
        ),
    )


def warn(server: ProchemyServer, problem: Exception) -> None:
    server.window_show_message(
        types.ShowMessageParams(type=types.MessageType.Warning, message=f"Prochemy: {problem}")
    )


async def implement_and_apply(
    server: ProchemyServer, uri: str, line: int, check: bool, apply_failing: bool = False
) -> dict:
    """The generate command: implement with progress (one report per candidate,
    cancellable), apply the edit only on a verified pass (or when no tests could run, or
    when asked to keep the best failing version), tell the verdict."""
    job = asyncio.current_task()
    reporter = ProgressReporter(server, "Prochemy: implementing", on_cancel=job.cancel if job else None)
    await reporter.begin(f"line {line + 1}")
    try:
        most = server.settings(server.root_for(uri)).generate.candidates if check else 1
        outcome = await implement_at(
            server, uri, line, check=check, on_attempt=lambda a: reporter.report(describe_attempt(a, most))
        )
    except asyncio.CancelledError:
        if job is not None:
            job.uncancel()
        reporter.end("cancelled")
        return {"applied": False, "error": "cancelled"}
    except UserError as e:
        reporter.end(str(e))
        warn(server, e)
        return {"applied": False, "error": str(e)}
    except Exception as e:
        reporter.end(f"failed: {e}")
        server.failures.report(e)
        return {"applied": False, "error": str(e)}
    result = {
        "qualname": outcome.qualname,
        "tests": outcome.tests,
        "passed": outcome.passed,
        "prompt": outcome.prompt,
        "candidates": outcome.candidates,
    }
    if outcome.passed is False and not apply_failing:
        reporter.end(f"not applied: no candidate passed ({outcome.tests})")
        warn_not_applied(
            server, outcome, "; run prochemy.generate with applyFailing to take the best failing version"
        )
        return {**result, "applied": False}
    applied = await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=whole_document_edit(server, uri, outcome.new_source), label=f"Implement {outcome.qualname}"
        )
    )
    reporter.end(f"related tests {outcome.tests}")
    tell(server, outcome)
    return {**result, "applied": applied.applied}
