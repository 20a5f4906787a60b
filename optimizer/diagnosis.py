"""What `doctor` says without calling a model: every setting and where it came from, the
embedded model and llama-server, the sandbox tier, and the interpreter for a repo's tests.
The CLI and the language server both print it, then add their own checks."""

from __future__ import annotations

import json
from pathlib import Path

from prochemy.sandbox.isolation import SandboxUnavailable, probe

from .config import LoadedSettings
from .llm.llama_server import other_servers, server_binary
from .llm.local_model import MODELS, model_file
from .tasks.repo_env import RepoError, find_interpreter


def local_checks(loaded: LoadedSettings, project: Path) -> list[str]:
    settings = loaded.settings
    lines = ["configuration (value  <- source):"]
    lines += [
        f"  {key} = {json.dumps(value, default=str)}  <- {source}" for key, value, source in loaded.describe()
    ]
    if settings.endpoint.base_url is None:
        gguf = model_file(settings)
        binary = server_binary()
        lines += [
            f"embedded model: {MODELS[settings.model.choice].title if settings.model.path is None else gguf}",
            f"  weights: {gguf} ({'present' if gguf.is_file() else 'MISSING: prochemy model fetch'})",
            f"  llama-server: {binary} "
            f"({'built' if binary.is_file() else 'NOT BUILT: prochemy model build-server'})",
        ]
        if others := other_servers():
            lines.append(
                f"  llama-server already running elsewhere: pid {', '.join(map(str, others))} "
                "(it shares the CPU: generation here is slower until it stops)"
            )
    try:
        isolation = probe(settings.sandbox.level)
    except SandboxUnavailable as e:
        lines.append(f"sandbox: NOT USABLE: {e}")
    else:
        lines.append(
            f"sandbox: tier {isolation.tier} ({isolation.reason})"
            + (" - DOWNGRADED from bwrap" if isolation.downgraded else "")
        )
        lines += [f"  limit: {limit}" for limit in isolation.limits]
    try:
        py = find_interpreter(project, settings.test.python)
        lines.append(f"repository tests in {project}: {py.path} (pytest {py.pytest_version}; {py.reason})")
    except RepoError as e:
        lines.append(f"repository tests in {project}: {e}")
    return lines
