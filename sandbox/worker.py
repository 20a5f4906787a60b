"""The warm sandbox worker: reads one job per line, forks one child per candidate.

Runs as `python -m prochemy.sandbox.worker CONFIG_JSON`, possibly inside bwrap. Stdlib
only and imports paid once: a fork of this warm process is far cheaper than a fresh
interpreter per candidate. The worker is a child subreaper, so daemons a candidate
double-forks are re-parented here and killed when the candidate ends.

Protocol: stdin gets {"id", "program", "timeout_s", "cpu_s"} lines; stdout gets one result line each.
A program may set `__report__ = {"outcome", "detail", "data"}` to report for itself (the
repository runner's pytest driver does). With `copy_root` in the config each candidate gets
a fresh copy of that tree (the process tier's stand-in for bwrap's read-only view);
`PROCHEMY_REPO_ROOT` tells the program where the tree is.
"""

from __future__ import annotations

import builtins
import ctypes
import errno
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

# Modules candidates commonly import, loaded once in the warm parent (and readable even
# after the child drops to an unprivileged uid that cannot read the interpreter's tree).
PRELOAD = (
    "math cmath re string itertools functools collections collections.abc heapq bisect "
    "typing random statistics fractions decimal hashlib json copy operator datetime array "
    "dataclasses enum textwrap unicodedata numbers struct io contextlib abc types "
    "traceback inspect calendar time queue pathlib csv pprint difflib glob fnmatch base64 "
    "binascii zlib secrets uuid ast keyword weakref"
).split()

SAFE_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONIOENCODING", "PYTHONHASHSEED")
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
FILENAME = "<candidate>"
_REPORT_CAP = 8 << 20  # a baseline report maps every test to the functions it ran
_OUTCOMES = ("passed", "failed", "error", "timeout", "resource-limit")


def main() -> None:
    config = json.loads(sys.argv[1])
    repo = config.get("copy_root") or config.get("repo_root")
    if repo and config.get("run_as_uid") is not None and not _uid_can_import(config["run_as_uid"]):
        # The interpreter lives where that uid cannot read (a pyenv under a 0700 /root), and
        # a repo's tests import what they like: keep rlimits, the copy and a clean environment.
        config["run_as_uid"] = None
    for name in PRELOAD + config.get("preload", []):
        _preload(name)
    ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _sweep_stale_dirs()
    base = tempfile.mkdtemp(prefix=f"prochemy-sbx-{os.getpid()}-")
    os.chmod(base, 0o711)  # an unprivileged candidate may traverse to its own workdir
    out = sys.stdout
    try:
        for line in sys.stdin:
            job = json.loads(line)
            result = run_job(job, config, base)
            result["id"] = job.get("id")
            out.write(json.dumps(result) + "\n")
            out.flush()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _sweep_stale_dirs() -> None:
    """Remove work dirs of workers that were killed before they could clean up."""
    root = tempfile.gettempdir()
    for name in os.listdir(root):
        parts = name.split("-")
        if name.startswith("prochemy-sbx-") and len(parts) >= 4 and parts[2].isdigit():
            try:
                os.kill(int(parts[2]), 0)
            except ProcessLookupError:
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            except PermissionError:
                pass  # alive, someone else's


def _uid_can_import(uid: int) -> bool:
    """Whether a process under uid can read the standard library (checked in a fork)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with open(os.__file__, "rb"):
                code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def _preload(name: str) -> None:
    """Import a module once in the warm parent; "pkg.*" imports every submodule too;
    "entry-points:GROUP" every module an entry point group names (pytest11: plugins)."""
    try:
        if name.startswith("entry-points:"):
            from importlib.metadata import entry_points
            for point in entry_points().select(group=name.split(":", 1)[1]):
                _preload(point.module)
            return
        module = __import__(name.removesuffix(".*"), fromlist=["_"])
        if name.endswith(".*"):
            import pkgutil
            for info in pkgutil.iter_modules(module.__path__, module.__name__ + "."):
                _preload(info.name)
    except Exception:  # noqa: BLE001 - a module that fails to import is just not preloaded
        pass


def run_job(job: dict, config: dict, base: str) -> dict:
    workdir = tempfile.mkdtemp(dir=base)
    uid = config.get("run_as_uid")
    repo_root = config.get("repo_root")
    if config.get("copy_root"):
        repo_root = os.path.join(workdir, "repo")
        shutil.copytree(config["copy_root"], repo_root, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "venv", "__pycache__", "*.pyc", ".pytest_cache", "node_modules", ".tox"))
    if uid is not None:
        for folder, _, files in os.walk(workdir):
            for name in [folder] + [os.path.join(folder, f) for f in files]:
                os.lchown(name, uid, uid)
    job = dict(job, repo_root=repo_root)
    out_r, out_w = os.pipe()
    res_r, res_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the candidate
        os.close(out_r)
        os.close(res_r)
        _child(job, config, workdir, out_w, res_w)
    os.close(out_w)
    os.close(res_w)
    timeout = float(job.get("timeout_s") or config["timeout_s"])
    output, report, timed_out, status = _supervise(pid, out_r, res_r, timeout, config["output_bytes"])
    duration = time.monotonic() - start
    _kill_leftovers(pid, uid)
    shutil.rmtree(workdir, ignore_errors=True)
    result = _classify(report, status, timed_out, timeout, config)
    result["output_tail"] = output.decode("utf-8", "replace")
    result["duration_s"] = round(duration, 4)
    return result


def _child(job: dict, config: dict, workdir: str, out_w: int, res_w: int) -> None:
    code = 70
    try:
        os.setsid()
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with its worker
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        os.chdir(workdir)
        mb = 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (config["memory_mb"] * mb,) * 2)
        cpu = int(job.get("cpu_s") or config["cpu_s"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (config["file_size_mb"] * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        nproc = config["nproc_base"] + config["max_procs"]
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        uid = config.get("run_as_uid")
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        env = {k: os.environ[k] for k in SAFE_ENV_KEYS if k in os.environ}
        env.update(HOME=workdir, TMPDIR=workdir)
        if job.get("repo_root"):
            env["PROCHEMY_REPO_ROOT"] = job["repo_root"]
        os.environ.clear()
        os.environ.update(env)
        tempfile.tempdir = workdir
        sys.stdin = open(os.devnull)
        me = os.getpid()
        report = _execute(job["program"])
        sys.stdout.flush()
        sys.stderr.flush()
        if os.getpid() == me:  # a process the candidate forked may not report
            os.write(res_w, json.dumps(report).encode())
            code = 0
    except BaseException:  # noqa: BLE001 - nothing may escape the child
        code = 71
    finally:
        os._exit(code)


def _execute(program: str) -> dict:
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(program, FILENAME, "exec"), namespace)  # noqa: S102 - that is the point
    except AssertionError as e:
        return {"outcome": "failed", "detail": _assertion(e, program)}
    except MemoryError:
        return {"outcome": "resource-limit", "detail": "memory limit (MemoryError)"}
    except RecursionError as e:
        return {"outcome": "error", "detail": f"RecursionError: {e}"}
    except SyntaxError as e:
        return {"outcome": "error", "detail": f"SyntaxError: {e.msg} (line {e.lineno})"}
    except OSError as e:
        if e.errno == errno.EFBIG:
            return {"outcome": "resource-limit", "detail": "file size limit"}
        if e.errno == errno.EAGAIN:  # fork refused under RLIMIT_NPROC
            return {"outcome": "resource-limit", "detail": f"process count limit ({e})"}
        return {"outcome": "error", "detail": f"{type(e).__name__}: {e}"}
    except SystemExit as e:
        return {"outcome": "error", "detail": f"the program called exit({e.code!r})"}
    except BaseException as e:  # noqa: BLE001
        return {"outcome": "error", "detail": f"{type(e).__name__}: {e}"[:500]}
    report = namespace.get("__report__")
    if isinstance(report, dict) and report.get("outcome") in _OUTCOMES:
        return report
    return {"outcome": "passed", "detail": ""}


def _assertion(error: AssertionError, program: str) -> str:
    """The failing assert statement's source line, plus its message if any."""
    lines = program.splitlines()
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == FILENAME]
    where = ""
    if frames and frames[-1].lineno and frames[-1].lineno <= len(lines):
        where = lines[frames[-1].lineno - 1].strip()
    message = str(error)
    return (where + (f"  ({message})" if message else "")).strip()[:500] or "AssertionError"


def _supervise(pid: int, out_r: int, res_r: int, timeout: float, cap: int):
    """Collect output and the report until the child exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    pidfd = os.pidfd_open(pid)
    output = bytearray()
    report = bytearray()
    open_fds = {out_r, res_r}
    timed_out = False
    status = None
    try:
        while True:  # until the child exits or the deadline passes
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                _killpg(pid)
                break
            ready, _, _ = select.select([pidfd, *open_fds], [], [], remaining)
            for fd in ready:
                if fd == pidfd:
                    continue
                _drain(fd, output if fd == out_r else report, cap if fd == out_r else _REPORT_CAP, open_fds)
            if pidfd in ready:
                break
        _, status = os.waitpid(pid, 0)
        for fd in list(open_fds):  # what the child wrote just before exiting
            os.set_blocking(fd, False)
            _drain(fd, output if fd == out_r else report, cap if fd == out_r else _REPORT_CAP, open_fds)
    finally:
        os.close(pidfd)
        for fd in (out_r, res_r):
            os.close(fd)
    return bytes(output[-cap:]), bytes(report), timed_out, status


def _drain(fd: int, sink: bytearray, cap: int, open_fds: set[int]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            open_fds.discard(fd)
            return
        sink.extend(chunk)
        if len(sink) > 4 * cap:  # keep the tail only
            del sink[: len(sink) - cap]
        if os.get_blocking(fd):
            return


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_leftovers(pid: int, uid: int | None) -> None:
    """Kill the candidate's process group, and any daemon that escaped it."""
    _killpg(pid)
    if uid is not None:
        _kill_all_of_uid(uid)
    for _ in range(50):
        children = _children()
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if not children:
            return
        time.sleep(0.002)


def _kill_all_of_uid(uid: int) -> None:
    """kill(-1) from a helper running as uid reaches every process of that uid."""
    helper = os.fork()
    if helper == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(helper, 0)


def _children() -> list[int]:
    me = os.getpid()
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{me}/task"):
            with open(f"/proc/{me}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
    except OSError:
        pass
    return found


def _classify(report: bytes, status, timed_out: bool, timeout: float, config: dict) -> dict:
    if timed_out:
        return {"outcome": "timeout", "detail": f"wall-clock limit of {timeout:g}s"}
    if report:
        try:
            return json.loads(report)
        except ValueError:
            pass
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return {"outcome": "timeout", "detail": "CPU time limit"}
        if sig == signal.SIGKILL:
            return {"outcome": "resource-limit", "detail": "killed (out of memory?)"}
        return {"outcome": "error", "detail": f"killed by signal {signal.Signals(sig).name}"}
    code = os.WEXITSTATUS(status) if status is not None else -1
    return {"outcome": "error", "detail": f"the program exited with code {code} before the tests ended"}


if __name__ == "__main__":
    main()
