"""How a llama-server that dies while loading is reported: the user learns what to do."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prochemy.optimizer.config import load_settings
from prochemy.optimizer.diagnosis import local_checks
from prochemy.optimizer.llm.llama_server import LlamaServer, ServerError, other_servers


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


def seen_within(seconds: float, condition: Callable[[], bool]) -> bool:
    # a child's /proc cmdline is empty for a moment after Popen returns
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_another_running_llama_server_is_noticed_and_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # two servers on 2 cores each decode several times slower: a run must not start silently
    impostor = tmp_path / "other" / "llama-server"
    impostor.parent.mkdir()
    shutil.copy("/bin/sleep", impostor)
    other = subprocess.Popen([str(impostor), "30"])
    try:
        assert seen_within(5, lambda: other.pid in other_servers())
        # `prochemy doctor` (embedded model) names it too
        loaded = load_settings(tmp_path, overrides={"endpoint.base_url": None}, env={})
        doctor = [line for line in local_checks(loaded, tmp_path) if "already running" in line]
        assert len(doctor) == 1 and str(other.pid) in doctor[0]
        mine = dying_server(tmp_path, "sleep 30\n")
        with caplog.at_level(logging.WARNING, logger="prochemy.llama_server"):
            mine.start()
        try:
            warned = [r.getMessage() for r in caplog.records if "already running" in r.getMessage()]
            assert len(warned) == 1 and str(other.pid) in warned[0].split("(pid ")[1].split(")")[0]
            assert mine.process is not None and mine.process.pid not in other_servers()
        finally:
            mine.stop()
    finally:
        other.kill()
        other.wait()
    assert seen_within(5, lambda: other.pid not in other_servers())
