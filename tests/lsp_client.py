"""A raw JSON-RPC client for the language server over stdio: frames written by hand, so
tests can send malformed ones, and every server request answered with null."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from prochemy.optimizer.llm.llama_server import free_port


class RawClient:
    """JSON-RPC over the server's stdio, with nothing between us and the bytes."""

    def __init__(self, workspace: Path, cache: Path, options: dict | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prochemy.server.main", "--log-file", str(cache / "lsp.log")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # an editor starts the server in the workspace; from this repository's root the
            # bare prochemy/ folder would shadow the installed package
            cwd=workspace,
            start_new_session=True,
        )
        self.ids = iter(range(1, 10**9))
        # answers to the server's own requests by method (default null), and every message
        # of the server's seen while waiting, with the time it arrived
        self.answers: dict[str, Any] = {}
        self.seen: list[tuple[float, dict]] = []
        dead_endpoint = f"http://127.0.0.1:{free_port()}/v1"
        reply = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": None,
                "capabilities": {},
                "initializationOptions": options
                or {
                    "endpoint": {"base_url": dead_endpoint, "model": "m"},
                    "retries": 0,
                    "cache_dir": str(cache),
                },
                "workspaceFolders": [{"uri": workspace.as_uri(), "name": "w"}],
            },
        )
        assert "result" in reply
        self.notify("initialized", {})

    def send_raw(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, method: str, params: Any, timeout: float = 60) -> dict:
        ident = next(self.ids)
        body = json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read()
            if message.get("id") == ident and "method" not in message:
                return message
            if "method" in message:
                self.seen.append((time.monotonic(), message))
            if "method" in message and "id" in message:  # a request of the server's
                self._answer(message["id"], self.answers.get(message["method"]))
        raise AssertionError(f"no answer to {method} within {timeout}s")

    def _answer(self, ident: Any, result: Any = None) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _read(self) -> dict:
        assert self.process.stdout is not None
        length = None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError("the server closed its output (crashed?)")
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        assert length is not None
        return json.loads(self.process.stdout.read(length))

    def alive(self) -> bool:
        return self.process.poll() is None and "result" in self.request(
            "workspace/executeCommand", {"command": "prochemy.status", "arguments": []}
        )

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
