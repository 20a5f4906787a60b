"""How a llama-server that dies while loading is reported: the user learns what to do."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prochemy.optimizer.llm.llama_server import LlamaServer, ServerError


def dying_server(tmp_path: Path, script: str) -> LlamaServer:
    binary = tmp_path / "llama-server"
    binary.write_text("#!/bin/sh\n" + script)
    binary.chmod(0o755)
    return LlamaServer(tmp_path / "model.gguf", tmp_path / "logs", binary=binary)


def load_error(server: LlamaServer) -> str:
    server.start()
    deadline = time.monotonic() + 10
    with pytest.raises(ServerError) as error:
        while time.monotonic() < deadline:
            server.poll_ready()
            time.sleep(0.05)
    return str(error.value)


def test_an_illegal_instruction_says_to_rebuild_for_this_machine(tmp_path: Path) -> None:
    # a binary built for CPU features the host does not allow (e.g. AMX) dies on SIGILL
    message = load_error(dying_server(tmp_path, "echo loading; kill -ILL $$\n"))
    assert "illegal instruction" in message
    assert f"Delete {tmp_path}" in message and "prochemy model build-server" in message


def test_another_exit_shows_the_code_and_the_log(tmp_path: Path) -> None:
    message = load_error(dying_server(tmp_path, "echo 'error: unknown model architecture'; exit 1\n"))
    assert "exited with code 1" in message and "unknown model architecture" in message
