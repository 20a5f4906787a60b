"""Which isolation is in force, and the command line that starts a worker under it.

Tier "bwrap": bubblewrap gives the worker no network, no host IPC, its own pid namespace
and /proc, and a read-only view of only what it needs (the system's /usr, /lib, /etc, the
interpreter, our package, the repository): /run, /var, /home, /root and /tmp of the host,
and every socket file in them, do not exist inside. /tmp is a size-bounded tmpfs. Tier
"process": rlimits, a temp dir, a stripped environment, and (as root) an unprivileged uid
per worker. The probe runs the real worker command once, so a host that forbids user
namespaces is detected instead of failing later; a downgrade is never silent (see probe).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

import prochemy

from .models import Runtime, Tier

UNPRIVILEGED_UID_BASE = 61000  # as root, candidates run as uids leased from 61000 up
UID_LEASES = 4000
LEASE_DIR = Path("/run/prochemy-uids")  # root-only; one lock file per leased uid
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# What a worker's environment may hold: nothing secret (a candidate can read its own
# /proc/self/environ, which keeps the environment the worker was started with).
WORKER_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "PYTHONIOENCODING", "PYTHONUTF8")


class Isolation(BaseModel):
    tier: Tier
    reason: str  # why this tier (the probe's error when bwrap was not usable)
    downgraded: bool = False  # "auto" fell back to "process": say so wherever results show

    @property
    def limits(self) -> list[str]:
        return LIMITS[self.tier]

    @property
    def banner(self) -> str:
        """One line for every run: the tier in force, and why if it is the weaker one."""
        if self.tier == "bwrap":
            return "sandbox: bwrap"
        return f"sandbox: process tier (weaker: no network or filesystem isolation) - {self.reason}"


# What each tier cannot stop (asserted by tests/hostile; shown by `prochemy doctor`).
LIMITS = {
    "bwrap": [
        "a repository pass is confirmed with the candidate in its own process; tests that "
        "pass it values which cannot cross (lambdas, open files, third-party types) or that "
        "monkeypatch what it uses cannot confirm, and such a pass is reported as an error "
        "(never counted)",
    ],
    "process": [
        "no network isolation: a candidate can reach the network and loopback listeners",
        "no mount isolation: host Unix sockets (/run, /var/tmp) stay reachable, and /tmp is "
        "the host's (only the per-file size limit and the wall clock bound what it writes)",
        "as a non-root user, candidates run as you: they can read and write your files and "
        "the /proc entries of your other processes",
        "repository tests as root run only if an unprivileged uid can run their interpreter; "
        "otherwise the tier refuses",
    ],
}


class SandboxUnavailable(RuntimeError):
    """The requested isolation cannot be had here; the message says what to do."""


def worker_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: os.environ[k] for k in WORKER_ENV_KEYS if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return {**env, **extra}


class UidLease:
    """An unprivileged uid held by this process alone (flock on a root-only file), so two
    prochemy instances never share one: the process-count limit and cleanup stay ours."""

    def __init__(self) -> None:
        LEASE_DIR.mkdir(mode=0o700, exist_ok=True)
        for k in range(UID_LEASES):
            uid = UNPRIVILEGED_UID_BASE + k
            fd = os.open(LEASE_DIR / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if count_processes_of(uid):  # someone else's processes use it: not ours to take
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return
        raise SandboxUnavailable(
            f"no free unprivileged uid in {UNPRIVILEGED_UID_BASE}..{UNPRIVILEGED_UID_BASE + UID_LEASES}"
        )

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


WORKER_SCRIPT = Path(__file__).with_name("worker.py")


@lru_cache(maxsize=8)
def interpreter_roots(python: str) -> tuple[Path, ...]:
    """Folders an interpreter needs: its prefixes and its sys.path (asked once)."""
    if python == sys.executable:
        paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]
    else:
        done = subprocess.run(
            [
                python,
                "-c",
                "import sys, json; print(json.dumps("
                "[sys.prefix, sys.base_prefix, sys.exec_prefix] + sys.path))",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        paths = json.loads(done.stdout)
    roots = {Path(p).resolve() for p in paths if p and Path(p).is_dir()}  # "." would bind over /
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


def bwrap_prefix(uid: int | None, tmp_mb: int, runtime: Runtime | None = None) -> list[str]:
    """The bwrap command line; uid: drop to it (as root, so the process-count limit applies)."""
    args = [
        "bwrap",
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--tmpfs",
        "/",
    ]
    for name in SYSTEM_DIRS:  # only the system, not /: no /run, /var, /home or their sockets
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    args += [
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--perms",
        "1777",
        "--size",
        str(tmp_mb << 20),
        "--tmpfs",
        "/tmp",
        "--perms",
        "1777",
        "--size",
        str(1 << 20),
        "--tmpfs",
        "/dev/shm",
    ]
    made: set[Path] = set()
    for root in _visible_roots(runtime or Runtime()):
        if not root.exists() or any(root == Path(d) or Path(d) in root.parents for d in SYSTEM_DIRS):
            continue
        if root in (Path("/"), Path("/tmp"), Path("/dev"), Path("/proc")):
            continue  # a script run from /tmp puts /tmp on sys.path: keep the private one
        # parents are made on the empty root: traversable, so an unprivileged worker reaches it
        for parent in reversed(root.parents):
            if parent != Path("/") and parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(root), str(root)]
    args += ["--remount-ro", "/", "--chdir", "/tmp", "--setenv", "HOME", "/tmp"]
    if uid is not None:
        args += [
            "--",
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]
    else:
        args += ["--"]
    return args


def worker_command(tier: str, uid: int | None, tmp_mb: int, config_json: str, runtime: Runtime) -> list[str]:
    # by path: the repository's own interpreter does not have our package installed
    python = [runtime.python, str(WORKER_SCRIPT), config_json]
    if tier == "bwrap":
        return bwrap_prefix(uid, tmp_mb, runtime) + python
    return python


@lru_cache(maxsize=4)
def probe(requested: str) -> Isolation:
    """Decide the tier once per process for a requested level. "bwrap" (the default) fails
    with the probe's reason if bubblewrap does not work; only "auto" may fall back, and
    the fallback is marked so every run and status shows it."""
    if requested == "process":
        return Isolation(tier="process", reason="sandbox.level = process")
    problem = _bwrap_problem()
    if problem is not None and "timed out" in problem:
        problem = _bwrap_problem(timeout=120)  # a loaded machine is not a broken one
    if problem is None:
        return Isolation(tier="bwrap", reason="bubblewrap probe succeeded")
    if requested == "bwrap":
        raise SandboxUnavailable(
            f"bubblewrap is not usable here: {problem}. Fix that, or accept the weaker process "
            'tier knowingly with sandbox.level = "process" (or "auto" to fall back)'
        )
    return Isolation(
        tier="process",
        downgraded=True,
        reason=f"sandbox.level = auto and bubblewrap is not usable ({problem})",
    )


def _bwrap_problem(timeout: float = 20) -> str | None:
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt install bubblewrap)"
    uid = UNPRIVILEGED_UID_BASE + UID_LEASES if os.geteuid() == 0 else None  # never leased
    cmd = bwrap_prefix(uid, 16) + [sys.executable, "-c", "import prochemy.sandbox.worker"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=worker_env({}))
    except subprocess.TimeoutExpired:
        return f"the bwrap probe timed out after {timeout:g}s"
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return None


def uid_can_run(uid: int, python: str, module: str) -> str | None:
    """Why uid cannot run `python -c "import module"` (a 0700 home holding the interpreter,
    say), or None if it can."""
    try:
        done = subprocess.run(
            [python, "-c", f"import {module}"],
            user=uid,
            group=uid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=60,
            env=worker_env({}),
            cwd="/",
        )
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)
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
