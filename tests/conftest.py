from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prochemy.optimizer.config import Endpoint, Settings

from .stub_llm import StubLLM


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    server = StubLLM().start()
    yield server
    server.stop()


@pytest.fixture
def stub_settings(stub: StubLLM, tmp_path: Path) -> Settings:
    """Settings pointing at the stub, with a private cache and fast failure."""
    return Settings(
        endpoint=Endpoint(base_url=stub.url, model="stub-model"),
        cache_dir=tmp_path / "cache",
        retries=2,
        request_timeout_s=5,
    )


@pytest.fixture(scope="session")
def readable_python() -> Path:
    """An interpreter with pytest that an unprivileged uid can run (a venv of the system
    Python under /var/tmp): the process tier, as root, runs repository tests only with
    such an interpreter. Skips where there is no system Python or no package index."""
    import shutil
    import subprocess

    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        pytest.skip("no system python3 to build a world-readable venv from")
    venv = Path("/var/tmp/prochemy-test-venv-pytest-9.2.0")
    python = venv / "bin" / "python"
    if not (venv / ".ready").is_file():
        shutil.rmtree(venv, ignore_errors=True)
        made = subprocess.run([system, "-m", "venv", str(venv)], capture_output=True, text=True)
        installed = (
            made.returncode == 0
            and subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "pytest==9.2.0"],
                capture_output=True,
                text=True,
                timeout=300,
            ).returncode
            == 0
        )
        if not installed:
            pytest.skip("could not build a world-readable venv with pytest (no package index?)")
        subprocess.run(["chmod", "-R", "a+rX", str(venv)], check=True)
        (venv / ".ready").write_text("ok")
    return python
