"""The language server end to end over stdio (pytest-lsp), with the VS Code and Neovim
client capabilities; the LLM is the stub server, the tests run for real in the sandbox."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from ..repos import tree_hash, write_repo
from ..stub_llm import StubLLM
from .test_repo_refine import REPO, SKILL, responder

# "bare": no progress UI, no code-action resolve, no dynamic registration, no configuration pull
CLIENTS = ["visual-studio-code", "neovim", "bare"]
STUB_OPS = REPO["ops.py"].replace('    """Sum."""\n    return a + b', '    """Sum."""\n    ...')


OPS_JAVA = "class Ops {\n    static int add(int a, int b) { return a + b; }\n}\n"


def lsp_responder(messages: list[dict]) -> str:
    if messages[-1]["content"].startswith("Translate this Java code to Python."):
        assert "static int twice" in messages[-1]["content"]
        return "```python\ndef twice(x):\n    return 2 * x\n```"
    if messages[-1]["content"].startswith("Translate this Python code to Java."):
        assert "def add(a, b):" in messages[-1]["content"]
        return f"Sure:\n```java\n{OPS_JAVA}```\nThat is it."
    return responder(messages)


def slow_responder(messages: list[dict]) -> str:
    time.sleep(0.4)
    return lsp_responder(messages)


@pytest.fixture
def llm(request) -> StubLLM:
    slow = request.node.get_closest_marker("slow_llm") is not None
    server = StubLLM(responder=slow_responder if slow else lsp_responder).start()
    yield server
    server.stop()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "repo", REPO)


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[
            sys.executable,
            "-m",
            "prochemy.server.main",
            "--log-file",
            "/tmp/prochemy-lsp-test.log",
        ]
    ),
    params=CLIENTS,
)
async def client(lsp_client: LanguageClient, request, llm: StubLLM, repo: Path, tmp_path: Path):
    lsp_client.applied: list = []  # type: ignore[attr-defined]
    lsp_client.questions: list = []  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        lsp_client.applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    @lsp_client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def ask(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
        lsp_client.questions.append(params)
        return None

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        lsp_client.registrations = params.registrations  # type: ignore[attr-defined]

    options = {
        "endpoint": {"base_url": llm.url, "model": "stub-model"},
        "retries": 0,
        "cache_dir": str(tmp_path / "cache"),
        "test": {"python": sys.executable, "held_out_fraction": 0.5},
        "editor": {
            "k_real": 2,
            "k_synthetic": 1,
            "n": 3,
            "k_max": 2,
            "patience": 1,
            "debounce_s": 0,
            "background_refine": False,
            "accept_p": 1.0,  # 3 training tasks cannot clear the default gate; this is the flow
        },
    }
    lsp_client.options = options  # type: ignore[attr-defined]
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities()
            if request.param == "bare"
            else client_capabilities(request.param),
            initialization_options=options,
            workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(repo)), name="repo")],
        )
    )
    yield
    await lsp_client.shutdown_session()


async def command(client: LanguageClient, name: str, *args) -> dict:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(args))
    )


async def wait_job(client: LanguageClient, job_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = {j["id"]: j for j in (await command(client, "prochemy.status"))["jobs"]}
        if jobs[job_id]["state"] != "running":
            return jobs[job_id]
        await asyncio.sleep(0.3)
    raise AssertionError(f"job {job_id} still running")


def open_doc(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = from_fs_path(str(path))
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=path.read_text() if text is None else text
            )
        )
    )
    return uri


async def test_initialize_advertises_the_surface(client: LanguageClient) -> None:
    # initialize_session keeps the result only in the server; ask for it through a command list
    doctor = await command(client, "prochemy.doctor")
    assert "endpoint.base_url" in doctor["text"] and "<- editor settings" in doctor["text"]
    assert "sandbox: tier" in doctor["text"] and "log file: /tmp/prochemy-lsp-test.log" in doctor["text"]


async def test_refine_reports_progress_in_order_and_stores_the_prompt(
    client: LanguageClient, repo: Path
) -> None:
    before = tree_hash(repo)
    first = await command(client, "prochemy.refinePrompt")
    joined = await command(client, "prochemy.refinePrompt", {"root": str(repo)})
    assert joined["jobId"] == first["jobId"]  # one refinement per project
    job = await wait_job(client, first["jobId"])
    assert job["state"] == "done", job
    assert "refined prompt adopted" in job["message"]
    reports = [r for rs in client.progress_reports.values() for r in rs]
    kinds = [r.kind for r in reports]
    if kinds:  # VS Code and Neovim both support work-done progress
        assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
        messages = [getattr(r, "message", "") or "" for r in reports]
        assert any(m.startswith("mining") for m in messages)
        assert any(m.startswith("iteration 1/2") for m in messages)
        assert messages.index(next(m for m in messages if m.startswith("iteration"))) > 0
    else:  # no progress support: the same story in window/logMessage
        logged = [m.message for m in client.log_messages if m.message.startswith("Prochemy: refining")]
        assert any("iteration 1/2" in m for m in logged) and any(
            "refined prompt adopted" in m for m in logged
        )
    shown = await command(client, "prochemy.showPrompt")
    assert SKILL in shown["text"] and "held-out tests" in shown["text"]
    status = await command(client, "prochemy.status")
    assert status["prompt"]["adopted"] == "refined" and status["prompt"]["stale"] is False
    assert tree_hash(repo) == before


@pytest.mark.slow_llm
async def test_cancel_through_the_progress_token(client: LanguageClient) -> None:
    job_id = (await command(client, "prochemy.refinePrompt"))["jobId"]
    for _ in range(30):
        if client.progress_reports:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    if client.progress_reports:
        token = next(iter(client.progress_reports))
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    else:  # a client without progress UI cancels with the command
        assert (await command(client, "prochemy.cancel", {"job_id": job_id}))["cancelled"] == [job_id]
    job = await wait_job(client, job_id, timeout=20)
    assert job["state"] == "cancelled"
    if client.progress_reports:
        assert client.progress_reports[token][-1].kind == "end"


async def test_clear_cache_keeps_the_stored_prompt(client: LanguageClient) -> None:
    job = (await command(client, "prochemy.refinePrompt"))["jobId"]
    assert (await wait_job(client, job))["state"] == "done"
    cleared = await command(client, "prochemy.clearCache")
    assert cleared["llm answers"] > 0 and cleared["outcomes"] > 0 and cleared["mining results"] == 1
    assert (await command(client, "prochemy.status"))["prompt"]["adopted"] == "refined"


async def test_sandbox_downgrade_is_reported_once(client: LanguageClient) -> None:
    options = dict(client.options, sandbox={"level": "process"})
    client.set_configuration({"prochemy": options})
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"prochemy": options})
    )
    doctor = ""
    for _ in range(50):
        doctor = (await command(client, "prochemy.doctor"))["text"]
        if "sandbox: tier process" in doctor:
            break
        await asyncio.sleep(0.1)
    assert "sandbox: tier process (sandbox.level = process)" in doctor
    client.set_configuration({"prochemy": dict(options, retries=1)})
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"prochemy": options})
    )
    for _ in range(50):  # until the second change is in
        if "retries = 1" in (await command(client, "prochemy.doctor"))["text"]:
            break
        await asyncio.sleep(0.1)
    warnings = [m for m in client.messages if "weaker sandbox tier 'process'" in m.message]
    assert len(warnings) == 1


async def test_cancel_command_and_malformed_arguments(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcInvalidParams):
        await command(client, "prochemy.generate", {"uri": 3})
    with pytest.raises(JsonRpcInvalidParams):
        await command(client, "prochemy.refinePrompt", "not an object", 2)
    assert (await command(client, "prochemy.cancel", {"job_id": "nope"}))["cancelled"] == []
    assert "jobs" in await command(client, "prochemy.status")  # still alive


async def test_nothing_outside_the_workspace_is_touched(
    client: LanguageClient, repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "ops.py"
    outside.parent.mkdir()
    outside.write_text(STUB_OPS)
    uri = open_doc(client, outside, STUB_OPS)
    line = STUB_OPS.splitlines().index("def mul(a, b):")
    with pytest.raises(JsonRpcInvalidParams, match="outside the workspace"):
        await command(client, "prochemy.generate", {"uri": uri, "line": line})
    for root in ["/etc", str(repo / ".." / ".." / ".."), "../../../../etc", "untitled:x", "x" * 5000]:
        with pytest.raises(JsonRpcInvalidParams):
            await command(client, "prochemy.refinePrompt", {"root": root})
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)
            ),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert not actions
    assert outside.read_text() == STUB_OPS and not client.applied
    assert (await command(client, "prochemy.status"))["jobs"] == []  # no job was started


async def test_code_action_resolves_to_an_edit(client: LanguageClient, repo: Path) -> None:
    uri = open_doc(client, repo / "ops.py", STUB_OPS)
    line = STUB_OPS.splitlines().index("def add(a, b):")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=line + 2, character=4),
                end=types.Position(line=line + 2, character=4),
            ),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert [a.title for a in actions] == ["Implement with the seed prompt"]  # nothing refined yet
    action = actions[0]
    if isinstance(action, types.CodeAction):
        assert action.kind == types.CodeActionKind.RefactorRewrite and action.edit is None  # lazy
        resolved = await client.code_action_resolve_async(action)
        new_text = resolved.edit.changes[uri][0].new_text
    else:  # a client without resolve support gets a command, which applies the edit
        await command(client, action.command, *action.arguments)
        new_text = client.applied[-1].edit.changes[uri][0].new_text
    assert "return a + b" in new_text and "def mul(a, b):" in new_text
    assert any("related tests passed" in m.message for m in client.messages)
    implemented = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=line + 8, character=0),
                end=types.Position(line=line + 8, character=0),
            ),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert not implemented  # mul is implemented already: no action


async def test_a_java_file_is_translated_into_a_new_python_file(client: LanguageClient, repo: Path) -> None:
    java = repo / "Twice.java"
    java.write_text("class Twice {\n    static int twice(int x) { return 2 * x; }\n}\n")
    uri = open_doc(client, java)
    here = types.Range(start=types.Position(line=1, character=0), end=types.Position(line=1, character=0))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=here,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert [a.title for a in actions] == ["Translate file to Python"]
    (action,) = actions
    assert isinstance(action, types.Command)  # run only when chosen: no LLM call per request
    result = await command(client, action.command, *action.arguments)
    assert result["created"] is True and result["path"] == str(repo / "Twice.py")
    change = client.applied[-1].edit.document_changes
    assert isinstance(change[0], types.CreateFile) and change[0].uri == from_fs_path(str(repo / "Twice.py"))
    assert change[0].options.overwrite is False
    assert change[1].edits[0].new_text == "def twice(x):\n    return 2 * x\n"
    assert java.read_text().startswith("class Twice")  # the source is never touched
    (repo / "Twice.py").write_text("# someone's own file\n")
    again = await command(client, "prochemy.translate", {"uri": uri, "to": "python"})
    assert again["path"] == str(repo / "Twice_translated.py")  # never over an existing file
    selection = types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=1, character=3)
    )
    ops = open_doc(client, repo / "ops.py")
    titles = [
        a.title
        for a in await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=ops),
                range=selection,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
    ]
    assert "Translate selection to Java" in titles
    to_java = await command(
        client,
        "prochemy.translate",
        {
            "uri": ops,
            "to": "java",
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}},
        },
    )
    assert to_java["created"] is True and to_java["path"] == str(repo / "ops.java")
    java_text = client.applied[-1].edit.document_changes[1].edits[0].new_text
    assert (
        java_text == "class Ops {\n    static int add(int a, int b) { return a + b; }\n}\n"
    )  # the code, no prose
    with pytest.raises(JsonRpcInvalidParams):
        await command(client, "prochemy.translate", {"uri": uri, "to": "cobol"})


async def test_generate_applies_only_a_verified_pass_unless_asked_for_the_failing_version(
    client: LanguageClient, repo: Path
) -> None:
    uri = open_doc(client, repo / "ops.py", STUB_OPS)
    line = STUB_OPS.splitlines().index("def mul(a, b):")
    # the seed prompt gets mul wrong every time (see the stub): the samples (one wave of 4, the
    # endpoint's concurrency) repeat the greedy answer, so the search stops there and the
    # buffer is left alone
    result = await command(client, "prochemy.generate", {"uri": uri, "line": line})
    assert result["applied"] is False and result["qualname"] == "mul" and result["passed"] is False
    assert result["candidates"] == 5 and not client.applied
    assert any("none of 5 candidates passed" in m.message for m in client.messages)
    result = await command(client, "prochemy.generate", {"uri": uri, "line": line, "applyFailing": True})
    assert result["applied"] is True and result["passed"] is False
    assert "return None" in client.applied[-1].edit.changes[uri][0].new_text
    assert any("related tests failed" in m.message for m in client.messages)


async def test_generate_draws_candidates_until_the_related_tests_pass(
    client: LanguageClient, llm: StubLLM, repo: Path
) -> None:
    def sampled_right(payload: dict) -> str:  # greedy answers are wrong, sampled ones right
        if payload.get("temperature", 0) > 0 and "Implement `mul`" in payload["messages"][-1]["content"]:
            return "```python\ndef mul(a, b):\n    return a * b\n```"
        return responder(payload["messages"])

    llm.request_responder = sampled_right
    uri = open_doc(client, repo / "ops.py", STUB_OPS)
    line = STUB_OPS.splitlines().index("def mul(a, b):")
    result = await command(client, "prochemy.generate", {"uri": uri, "line": line})
    assert result["applied"] is True and result["passed"] is True and result["candidates"] == 2
    assert "return a * b" in client.applied[-1].edit.changes[uri][0].new_text
    assert any("best of 2 candidates" in m.message for m in client.messages)
    reports = [getattr(r, "message", "") or "" for rs in client.progress_reports.values() for r in rs]
    logs = [m.message for m in client.log_messages]
    seen = reports if client.progress_reports else logs  # progress UI, or log messages without one
    assert any("candidate 1/8 (greedy): failed" in m for m in seen)
    assert any("candidate 2/8 (sample): tests passed" in m for m in seen)


async def test_generate_is_cancelled_between_candidates_from_the_progress_ui(
    client: LanguageClient, llm: StubLLM, repo: Path
) -> None:
    def slow_and_wrong(payload: dict) -> str:  # every candidate different and wrong
        time.sleep(0.5)
        return f"```python\ndef mul(a, b):\n    return a - b + {payload.get('seed') or 0}\n```"

    llm.request_responder = slow_and_wrong
    uri = open_doc(client, repo / "ops.py", STUB_OPS)
    line = STUB_OPS.splitlines().index("def mul(a, b):")
    running = asyncio.create_task(command(client, "prochemy.generate", {"uri": uri, "line": line}))

    def first_verdict() -> str | None:
        for token, reports in client.progress_reports.items():
            if any("candidate 1/8" in (getattr(r, "message", "") or "") for r in reports):
                return str(token)
        return None

    for _ in range(300):
        if first_verdict() or running.done():
            break
        await asyncio.sleep(0.1)
    token = first_verdict()
    if token is None:  # a client without progress UI has nothing to cancel from: it ends alone
        assert not client.progress_reports
        result = await asyncio.wait_for(running, 120)
        assert result["applied"] is False and result["candidates"] == 8 and not client.applied
        return
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await asyncio.wait_for(running, 30)
    assert result == {"applied": False, "error": "cancelled"} and not client.applied
    assert client.progress_reports[token][-1].kind == "end"
    assert len(llm.completions) < 8  # the remaining candidates were never asked for


async def test_inline_completion_only_when_invoked(client: LanguageClient, repo: Path) -> None:
    uri = open_doc(client, repo / "ops.py", STUB_OPS)
    line = STUB_OPS.splitlines().index("def add(a, b):")
    params = lambda kind: types.InlineCompletionParams(  # noqa: E731
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line + 2, character=7),
        context=types.InlineCompletionContext(trigger_kind=kind),
    )
    assert (
        await client.text_document_inline_completion_async(
            params(types.InlineCompletionTriggerKind.Automatic)
        )
        is None
    )
    result = await client.text_document_inline_completion_async(
        params(types.InlineCompletionTriggerKind.Invoked)
    )
    items = result.items if hasattr(result, "items") else result
    assert items[0].insert_text.startswith("def add(a, b):") and "return a + b" in items[0].insert_text
    assert items[0].range.start.line == line


async def _wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_test_file_changes_trigger_background_refinement(client: LanguageClient, repo: Path) -> None:
    options = dict(client.options, editor=dict(client.options["editor"], background_refine=True))
    client.set_configuration({"prochemy": options})
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"prochemy": options})
    )
    for _ in range(50):  # the server pulls the new configuration asynchronously
        if "editor.background_refine = true" in (await command(client, "prochemy.doctor"))["text"]:
            break
        await asyncio.sleep(0.1)
    test_uri = from_fs_path(str(repo / "tests" / "test_ops.py"))
    if getattr(client, "registrations", None):  # VS Code: watched files were registered
        assert client.registrations[0].method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=test_uri, type=types.FileChangeType.Changed)]
            )
        )
    else:  # Neovim: no dynamic registration, didSave of a test file is the trigger
        open_doc(client, repo / "tests" / "test_ops.py")
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=test_uri))
        )
    jobs: list = []

    async def background() -> bool:
        jobs[:] = (await command(client, "prochemy.status"))["jobs"]
        return any(j["kind"] == "background-refine" for j in jobs)

    for _ in range(100):
        if await background():
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"no background refinement started: {jobs}")
    job = next(j for j in jobs if j["kind"] == "background-refine")
    assert (await wait_job(client, job["id"]))["state"] == "done"


async def test_client_only_and_unset_settings_are_not_problems(client: LanguageClient) -> None:
    # what VS Code answers to workspace/configuration: its own `server` section, nulls for unset keys
    vscode_like = dict(
        client.options,
        server={"python": "/usr/bin/python3", "command": []},
        model={"choice": None},
        sandbox={"level": None},
    )
    client.set_configuration({"prochemy": vscode_like})
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"prochemy": vscode_like})
    )
    await asyncio.sleep(0.5)
    doctor = (await command(client, "prochemy.doctor"))["text"]
    assert "problem:" not in doctor and 'model.choice = "default"  <- default' in doctor
    assert not [m for m in client.messages if "setting" in m.message]


async def test_an_invalid_setting_is_reported_once_and_the_default_used(client: LanguageClient) -> None:
    bad = dict(client.options, sandbox={"timeout_s": "soon"})
    client.set_configuration({"prochemy": bad})

    def warnings() -> list:
        return [m for m in client.messages if "sandbox.timeout_s" in m.message]

    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"prochemy": bad}))
    await _wait_for(lambda: bool(warnings()), timeout=15)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"prochemy": bad}))
    doctor = (await command(client, "prochemy.doctor"))["text"]
    assert "sandbox.timeout_s = 10.0  <- default" in doctor and "problem: " in doctor
    await asyncio.sleep(1.0)  # the second change has been applied by now
    assert len(warnings()) == 1, [m.message for m in client.messages]


async def test_stale_prompt_asks_when_background_refinement_is_off(
    client: LanguageClient, repo: Path
) -> None:
    job = (await command(client, "prochemy.refinePrompt"))["jobId"]
    assert (await wait_job(client, job))["state"] == "done"
    tests = repo / "tests" / "test_ops.py"
    tests.write_text(tests.read_text() + "\n\ndef test_more():\n    assert add(1, 1) == 2\n")
    uri = open_doc(client, tests)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await _wait_for(lambda: bool(client.questions), timeout=20)
    assert [a.title for a in client.questions[0].actions] == ["Refine now", "Later", "Don't ask again"]


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    kids = [int(k) for k in f.read().split()]
                found.update(kids)
                todo.extend(kids)
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.slow_llm
async def test_shutdown_mid_refinement_leaves_no_process_behind(client: LanguageClient) -> None:
    await command(client, "prochemy.refinePrompt")
    server_pid = client._server.pid
    for _ in range(100):  # until the refinement has sandbox workers running
        if _descendants(server_pid):
            break
        await asyncio.sleep(0.1)
    spawned = _descendants(server_pid)
    assert spawned
    await client.shutdown_session()
    client.capabilities = None  # the fixture's teardown has nothing left to do
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in spawned | {server_pid}) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert not [p for p in spawned | {server_pid} if _alive(p)]
