"""Property-based fuzzing of the language server over stdio: every command with arbitrary
JSON arguments, and malformed frames, each answered (a result or a JSON-RPC error, never a
crash or silence), and the server alive and answering afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..lsp_client import RawClient

pytestmark = pytest.mark.timeout(300)

COMMANDS = [
    "prochemy.refinePrompt",
    "prochemy.generate",
    "prochemy.showPrompt",
    "prochemy.cancel",
    "prochemy.clearCache",
    "prochemy.doctor",
    "prochemy.status",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# what the commands take, so fuzzing also reaches their validation, not only the shape check
fields = st.fixed_dictionaries(
    {},
    optional={
        "root": st.one_of(
            json_values,
            st.sampled_from(["/etc", "../../..", "file:///etc", "untitled:1", "file:///", "x" * 5000, "\0"]),
        ),
        "uri": st.one_of(json_values, st.sampled_from(["file:///etc/passwd", "file:///nope.py", ""])),
        "line": st.one_of(json_values, st.integers(-5, 10**12)),
        "job_id": json_values,
        "check": json_values,
    },
)
arguments = st.lists(st.one_of(fields, json_values), max_size=3)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawClient]:
    workspace = tmp_path_factory.mktemp("fuzz-workspace")
    (workspace / "mod.py").write_text("def f():\n    ...\n")
    client = RawClient(workspace, tmp_path_factory.mktemp("fuzz-cache"))
    yield client
    client.close()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(command=st.sampled_from(COMMANDS), args=arguments)
def test_every_command_answers_arbitrary_arguments(server: RawClient, command: str, args: list) -> None:
    reply = server.request("workspace/executeCommand", {"command": command, "arguments": args})
    assert "result" in reply or "error" in reply
    if "error" in reply:
        assert reply["error"]["code"] in (-32602, -32600, -32601, -32603)
        assert "Traceback" not in reply["error"]["message"]
        if reply["error"]["code"] == -32603:  # internal errors must not come from bad input
            pytest.fail(f"{command}{args!r} -> internal error {reply['error']['message'][:300]}")


def _frame(body: bytes, extra: bytes = b"") -> bytes:
    return b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n" + body


# bodies that are wrong, in frames that are right (a wrong Content-Length desynchronises
# any reader of the stream: that is the client's bug, not something to recover from)
MALFORMED_FRAMES = [
    _frame(b"{bad}"),
    _frame(b"[]"),
    _frame(b'{"jsonrpc":1}'),
    _frame(b"null"),
    _frame(b'{"jsonrpc":"2.0","id":1,"method":null}'),
    _frame(b'{"jsonrpc":"2.0","id":{},"method":"x/y","a":1}'),
    _frame(b'{"jsonrpc":"2.0","id":7,"method":"workspace/executeCommand","params":"x"}'),
    _frame(b'{"jsonrpc":"2.0","id":8,"method":"textDocument/codeAction","params":{}}'),
    _frame(b"\xff\xfe\x00garbage"),
    _frame(b"123", b"Content-Type: nonsense\r\n"),
]


@pytest.mark.parametrize("frame", MALFORMED_FRAMES)
def test_malformed_frames_leave_the_server_alive(server: RawClient, frame: bytes) -> None:
    server.send_raw(frame)
    assert server.alive()
