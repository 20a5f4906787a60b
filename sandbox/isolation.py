"""Which isolation is in force, and the command line that starts a worker under it.

Tier "bwrap": bubblewrap gives the worker no network, a read-only system, a private /tmp,
a hidden home and its own pid namespace. Tier "process": rlimits, a temp dir, a stripped
environment, and (as root) an unprivileged uid per worker. The probe runs the real worker
command once, so a host that forbids user namespaces falls back instead of failing later.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

import prochemy

UNPRIVILEGED_UID_BASE = 61000  # as root, worker k runs candidates as uid 61000 + k


class Isolation(BaseModel):
    tier: str  # "bwrap" or "process"
    reason: str  # why this tier (the probe's error when bwrap was not usable)


def _python_roots() -> list[Path]:
    """Folders the worker's interpreter and our package need to stay visible."""
    package_root = Path(prochemy.__file__).resolve().parent.parent
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), package_root,
             Path(sys.executable).resolve().parent.parent}
    roots.update(Path(p) for p in sys.path if p and Path(p).is_dir())
    return sorted(roots)


def bwrap_prefix(as_root: bool, slot: int) -> list[str]:
    home = Path.home()
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/", "--dev", "/dev",
            "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp", "--tmpfs", str(home)]
    hidden = (Path("/tmp"), home)
    for root in _python_roots():  # a venv under /tmp or ~ must stay reachable, read-only
        if any(h in root.parents for h in hidden) and root.exists():
            args += ["--ro-bind", str(root), str(root)]
    args += ["--chdir", "/tmp", "--setenv", "HOME", str(home)]
    if as_root:  # drop to an unprivileged uid so the process-count limit applies
        uid = str(UNPRIVILEGED_UID_BASE + slot)
        args += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all"]
    else:
        args += ["--"]
    return args


def worker_command(tier: str, slot: int, config_json: str) -> list[str]:
    python = [sys.executable, "-m", "prochemy.sandbox.worker", config_json]
    if tier == "bwrap":
        return bwrap_prefix(os.geteuid() == 0, slot) + python
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
