from __future__ import annotations

from pathlib import Path
from typing import Iterator

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
    return Settings(endpoint=Endpoint(base_url=stub.url, model="stub-model"),
                    cache_dir=tmp_path / "cache", retries=2, request_timeout_s=5)
