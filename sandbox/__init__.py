"""Running untrusted code: `Sandbox` (function-level candidates in warm workers) and
`RepoRunner` (a repository's pytest suite with a candidate spliced in, confirmed in
isolation). The scripts that run inside the sandbox (worker.py, split.py, isolate.py,
pytest_driver.py) are started by path and import nothing from this package."""

from .host import Sandbox, SandboxError
from .models import RunOutcome, RunResult, SandboxSettings
from .repo_runner import RepoRunner

__all__ = ["RepoRunner", "RunOutcome", "RunResult", "Sandbox", "SandboxError", "SandboxSettings"]
