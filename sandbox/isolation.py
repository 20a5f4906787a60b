"""Which isolation is in force, and the command line that starts a worker under it.

Tier "bwrap": bubblewrap gives the worker no network, a read-only system, a private /tmp,
a hidden home and its own pid namespace. Tier "process": rlimits, a temp dir, a stripped
environment, and (as root) an unprivileged uid per worker. The probe runs the real worker
command once, so a host that forbids user namespaces falls back instead of failing later.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

import prochemy

from .models import Runtime

UNPRIVILEGED_UID_BASE = 61000  # as root, worker k runs candidates as uid 61000 + k


class Isolation(BaseModel):
    tier: str  # "bwrap" or "process"
    reason: str  # why this tier (the probe's error when bwrap was not usable)


WORKER_SCRIPT = Path(__file__).with_name("worker.py")


@lru_cache(maxsize=8)
def interpreter_roots(python: str) -> tuple[Path, ...]:
    """Folders an interpreter needs: its prefixes and its sys.path (asked once)."""
    if python == sys.executable:
        paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]
    else:
        done = subprocess.run([python, "-c", "import sys, json; print(json.dumps("
                               "[sys.prefix, sys.base_prefix, sys.exec_prefix] + sys.path))"],
                              capture_output=True, text=True, timeout=60, check=True)
        paths = json.loads(done.stdout)
    roots = {Path(p) for p in paths if p and Path(p).is_dir()}
    roots.add(Path(python).resolve().parent.parent)
    return tuple(sorted(roots))


def _visible_roots(runtime: Runtime) -> list[Path]:
    """Folders the worker's interpreter, our worker script and the repo need to see."""
    roots = set(interpreter_roots(sys.executable)) | set(interpreter_roots(runtime.python))
    roots.add(Path(prochemy.__file__).resolve().parent.parent)
    roots.add(WORKER_SCRIPT.resolve().parent)
    roots.update(Path(v) for v in runtime.visible)
    if runtime.repo_root:
        roots.add(Path(runtime.repo_root))
    return sorted(roots)


def bwrap_prefix(as_root: bool, slot: int, runtime: Runtime | None = None) -> list[str]:
    home = Path.home()
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/", "--dev", "/dev",
            "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp", "--tmpfs", str(home)]
    hidden = (Path("/tmp"), home)
    made: set[Path] = set()
    for root in _visible_roots(runtime or Runtime()):  # a venv or repo under /tmp or ~ stays, read-only
        hider = next((h for h in hidden if h in root.parents), None)
        if hider is None or not root.exists():
            continue
        # bwrap would copy the modes of the folders on the way (a 0700 pytest-of-root);
        # make them traversable so an unprivileged worker can reach the bound folder
        for parent in reversed(root.parents):
            if hider in parent.parents and parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(root), str(root)]
    args += ["--chdir", "/tmp", "--setenv", "HOME", str(home)]
    if as_root:  # drop to an unprivileged uid so the process-count limit applies
        uid = str(UNPRIVILEGED_UID_BASE + slot)
        args += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all"]
    else:
        args += ["--"]
    return args


def worker_command(tier: str, slot: int, config_json: str, runtime: Runtime) -> list[str]:
    # by path: the repository's own interpreter does not have our package installed
    python = [runtime.python, str(WORKER_SCRIPT), config_json]
    if tier == "bwrap":
        return bwrap_prefix(os.geteuid() == 0, slot, runtime) + python
    return python


@lru_cache(maxsize=4)
def probe(requested: str) -> Isolation:
    """Decide the tier once per process for a requested level (auto, bwrap, process)."""
    if requested == "process":
        return Isolation(tier="process", reason="sandbox.level = process")
    problem = _bwrap_problem()
    if problem is None:
        return Isolation(tier="bwrap", reason="bubblewrap probe succeeded")
    if requested == "bwrap":
        raise RuntimeError(f"sandbox.level = bwrap but bubblewrap is not usable here: {problem}")
    return Isolation(tier="process", reason=f"bubblewrap not usable ({problem}); "
                     "running with rlimits, a temp dir and a stripped environment only")


def _bwrap_problem() -> str | None:
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt install bubblewrap)"
    cmd = bwrap_prefix(os.geteuid() == 0, 0) + [sys.executable, "-c", "import prochemy.sandbox.worker"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "the bwrap probe timed out"
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return None


def count_processes_of(uid: int) -> int:
    """Processes the kernel counts against RLIMIT_NPROC for uid (its real uid)."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        count += int(line.split()[1]) == uid
                        break
        except OSError:
            continue
    return count
