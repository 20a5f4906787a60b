"""The warm sandbox worker: reads one job per line, forks one child per candidate.

Runs as `python -m prochemy.sandbox.worker CONFIG_JSON`, possibly inside bwrap. Stdlib
only and imports paid once: a fork of this warm process is far cheaper than a fresh
interpreter per candidate. The worker is a child subreaper, so daemons a candidate
double-forks are re-parented here and killed when the candidate ends.

Protocol: stdin gets frames `LENGTH\n` + that many bytes of JSON; stdout gets one result
line each. Two kinds of job:
- "split" {"id", "solution", "judge_len", "timeout_s", "cpu_s"}, then a second frame of
  judge_len bytes, the tests: the candidate runs in one child (C) and the tests in another
  (J), plain data between them (split.py). The verdict comes from J alone, over a pipe C
  never holds; the tests are read only after C is forked, so C cannot read them either.
- "program" {"id", "program", ...}: one child runs the whole program (the repository
  runner's pytest driver, which imports the candidate). Its report is authenticated with a
  per-run key, so a candidate that merely writes the result channel is caught; one that
  shares the process can still forge it by introspection, so such a pass is only a hint.
- "isolated" {"id", "program", "candidate": {"rel", "source", "qualname"}, ...}: the same
  program with the target function stubbed, and the candidate's module served from its own
  process (isolate.py), forked before the key exists: a pass here is confirmed.
- "java" {"id", "sources": {relative path: text}, "java_home", "heap_mb"}: one child compiles
  the sources with that JDK's javac (annotation processing off) and runs the trusted
  launcher (sandbox/java/Launcher.java) in a JVM sized to fit the memory limit; the launcher
  gives the judged classes no permission and prints its verdict behind a nonce it read on
  stdin, so a line the answer prints cannot pass for it.
A program may set `__report__ = {"outcome", "detail", "data"}` to report for itself. With
`copy_root` in the config each candidate gets a fresh copy of that tree (the process
tier's stand-in for bwrap's read-only view); `PROCHEMY_REPO_ROOT` tells the program where
the tree is.

The worker is not dumpable, so a candidate running under the same uid cannot open its
/proc entries (memory, file descriptors, environment) or ptrace it.
"""

from __future__ import annotations

import builtins
import ctypes
import errno
import gc
import hashlib
import hmac
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

try:  # run by path under the repository's interpreter, or imported as a package module
    from . import isolate, split
except ImportError:
    import isolate  # type: ignore[no-redef]
    import split  # type: ignore[no-redef]

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
_PR_SET_DUMPABLE = 4
_LIBC = ctypes.CDLL(None)
FILENAME = "<candidate>"
_REPORT_CAP = 8 << 20  # a baseline report maps every test to the functions it ran
_OUTCOMES = ("passed", "failed", "error", "timeout", "resource-limit")


def main() -> None:
    global _PLUGIN_MODULES
    config = json.loads(sys.argv[1])
    for name in PRELOAD + config.get("preload", []):
        _preload(name)
    if "entry-points:pytest11" in config.get("preload", []):
        _PLUGIN_MODULES = _plugin_modules()
    _LIBC.prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _LIBC.prctl(_PR_SET_DUMPABLE, 0)
    gc.freeze()  # children's collections leave the warm heap alone: fewer copy-on-write faults
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _sweep_stale_dirs()
    base = tempfile.mkdtemp(prefix=f"prochemy-sbx-{os.getpid()}-")
    os.chmod(base, 0o711)  # an unprivileged candidate may traverse to its own workdir
    out = sys.stdout
    judge = Judge(config)
    try:
        while (frame := read_frame(0)) is not None:
            job = json.loads(frame)
            result = run_job(job, config, base, judge)
            result["id"] = job.get("id")
            out.write(json.dumps(result) + "\n")
            out.flush()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def read_frame(fd: int) -> bytearray | None:
    """One `LENGTH\\n` + bytes frame, read without buffering ahead: what follows stays in
    the pipe, out of this process's memory, until it is asked for."""
    digits = b""
    while not digits.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            return None
        digits += byte
        if len(digits) > 20:
            raise ValueError("malformed frame header")
    size = int(digits)
    data = bytearray(size)
    view = memoryview(data)
    got = 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            return None
        got += n
    return data


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


_PLUGIN_MODULES: list[str] | None = None  # known once the warm parent preloaded pytest's plugins


def _plugin_modules() -> list[str]:
    """The top-level modules of every distribution with a pytest11 entry point (pytest marks
    them all for rewriting: hypothesis has `hypothesis`, `_hypothesis_pytestplugin`, ...);
    scanning every distribution costs ~10 ms, so once here rather than in each run."""
    from importlib.metadata import distributions

    names = set()
    for dist in distributions():
        if not any(p.group == "pytest11" for p in dist.entry_points):
            continue
        for file in dist.files or []:
            parts = file.parts
            if len(parts) == 1 and parts[0].endswith(".py"):
                names.add(parts[0][:-3])
            elif len(parts) == 2 and parts[1] == "__init__.py":
                names.add(parts[0])
    return sorted(names)


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


def run_job(job: dict, config: dict, base: str, judge: Judge) -> dict:
    workdir = tempfile.mkdtemp(dir=base)
    uid = config.get("run_as_uid")
    repo_root = config.get("repo_root")
    if config.get("copy_root"):
        repo_root = os.path.join(workdir, "repo")
        shutil.copytree(
            config["copy_root"],
            repo_root,
            symlinks=True,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", "venv", "__pycache__", "*.pyc", ".pytest_cache", "node_modules", ".tox"
            ),
        )
    if uid is not None:
        for folder, _, files in os.walk(workdir):
            for name in [folder] + [os.path.join(folder, f) for f in files]:
                os.lchown(name, uid, uid)
    job = dict(job, repo_root=repo_root)
    timeout = float(job.get("timeout_s") or config["timeout_s"])
    start = time.monotonic()
    out_r, out_w = os.pipe()
    if job.get("kind") == "split":
        output, verdict, timed_out, status, candidate_status, pids = _run_split(
            job, config, workdir, out_r, out_w, judge, timeout
        )
    else:
        output, verdict, timed_out, status, candidate_status, pids = _run_program(
            job, config, workdir, out_r, out_w, judge, timeout
        )
    output += _drain_rest(out_r, config["output_bytes"])
    os.close(out_r)
    duration = time.monotonic() - start
    _kill_leftovers(pids, keep=judge.pid)
    try:
        os.rmdir(workdir)  # the common case: the candidate left nothing
    except OSError:
        shutil.rmtree(workdir, ignore_errors=True)
    result = _classify(verdict, status, timed_out, timeout, candidate_status)
    result["output_tail"] = output[-config["output_bytes"] :].decode("utf-8", "replace")
    result["duration_s"] = round(duration, 4)
    return result


def _run_split(
    job: dict, config: dict, workdir: str, out_r: int, out_w: int, judge: Judge, timeout: float
) -> tuple:
    """C gets the solution, the persistent J the tests; the verdict is J's."""
    c_pid = _start_split(job, config, workdir, out_r, out_w, judge)
    os.close(out_w)
    output, report, timed_out, status = _supervise(
        judge.pidfd, out_r, judge.ensure().fileno(), timeout, config["output_bytes"], framed=True
    )
    if timed_out or report is None:  # stuck or dead: a fresh judge for the next job
        status = judge.stop()
    candidate_status = _end(c_pid)
    verdict = _parse(report) if report is not None else None
    if (
        verdict is None
        and not timed_out
        and (candidate_status is None or not os.WIFSIGNALED(candidate_status))
    ):
        verdict = {"outcome": "error", "detail": "the tests' process ended without a verdict"}
    return output, verdict, timed_out, status, candidate_status, [c_pid]


def _run_program(
    job: dict, config: dict, workdir: str, out_r: int, out_w: int, judge: Judge, timeout: float
) -> tuple:
    """One child runs the program (the pytest driver); its report carries a per-run key.
    For an "isolated" job the candidate's module is served from a second child first (C),
    forked before the key exists, and the program's stubbed function calls it."""
    c_pid = None
    j_sock = None
    if job.get("kind") == "isolated":
        c_sock, j_sock = socket.socketpair()
        c_pid = os.fork()
        if c_pid == 0:  # C: the candidate, with neither the key nor the report channel
            os.close(out_r)
            j_sock.close()
            judge.forget()
            cand = job["candidate"]
            _child(
                config,
                workdir,
                out_w,
                None,
                job,
                lambda: isolate.serve(
                    c_sock, job["repo_root"], cand["rel"], cand["source"], cand["qualname"]
                ),
                None,
            )
        c_sock.close()
    key = os.urandom(32)
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the program (with the candidate inside it, unless isolated)
        os.close(out_r)
        os.close(res_r)
        judge.forget()
        names: dict[str, object] = {"PLUGIN_MODULES": _PLUGIN_MODULES}
        if j_sock is not None:
            names["__prochemy_link__"] = isolate.Link(j_sock, job["repo_root"])
        body = (
            (lambda: _java(job)) if job.get("kind") == "java" else (lambda: _execute(job["program"], names))
        )
        _child(config, workdir, out_w, res_w, job, body, key)
    if j_sock is not None:
        j_sock.close()
    os.close(res_w)
    os.close(out_w)
    pidfd = os.pidfd_open(pid)
    try:
        output, raw, timed_out, status = _supervise(pidfd, out_r, res_r, timeout, config["output_bytes"])
    finally:
        os.close(pidfd)
        os.close(res_r)
    if status is None:
        _killpg(pid)
        status = os.waitpid(pid, 0)[1]
    pids = [pid]
    if c_pid is not None:
        _end(c_pid)
        pids.append(c_pid)
    return output, _verified(raw or b"", key), timed_out, status, None, pids


class Judge:
    """This worker's judge process J: it runs the trusted tests of split jobs, one after
    another, each against a fresh candidate process. Persistent, because a fork per job
    for the tests as well as the candidate halved the throughput; restarted after any job
    that did not end with a report. Not dumpable: a candidate cannot read its memory."""

    def __init__(self, config: dict) -> None:
        self.config = config
        self.pid: int | None = None
        self.pidfd = -1
        self.ctl: socket.socket | None = None

    def ensure(self) -> socket.socket:
        if self.ctl is None:
            mine, theirs = socket.socketpair()
            pid = os.fork()
            if pid == 0:
                mine.close()
                _judge_loop(theirs, self.config)
            theirs.close()
            self.pid, self.pidfd, self.ctl = pid, os.pidfd_open(pid), mine
        return self.ctl

    def stop(self) -> int | None:
        """Kill it; its wait status (what it died of, if it had died already)."""
        if self.pid is None:
            return None
        pid = self.pid
        done, status = os.waitpid(pid, os.WNOHANG)
        self.forget()
        if done == 0:
            _killpg(pid)
            os.waitpid(pid, 0)
            return None  # killed by us: the timeout, not the judge, is the story
        return status

    def forget(self) -> None:
        """Drop our handles (also in a freshly forked candidate, which must not hold them)."""
        if self.ctl is not None:
            self.ctl.close()
            os.close(self.pidfd)
        self.pid, self.pidfd, self.ctl = None, -1, None


def _start_split(job: dict, config: dict, workdir: str, out_r: int, out_w: int, judge: Judge) -> int:
    """Fork C with the solution, then read the tests and hand them to J; C's pid."""
    ctl = judge.ensure()
    c_sock, j_sock = socket.socketpair()
    c_pid = os.fork()
    if c_pid == 0:  # C: never holds J's socket end, J's control socket or the tests
        os.close(out_r)
        j_sock.close()
        judge.forget()
        _child(
            config, workdir, out_w, None, job, lambda: split.serve(c_sock, job["solution"], FILENAME), None
        )
    c_sock.close()
    tests = read_frame(0)
    if tests is None:
        raise SystemExit("the host closed the job stream mid-job")
    memfd = os.memfd_create("tests")
    try:
        os.write(memfd, tests)
        tests[:] = bytes(len(tests))  # nothing of the tests stays in memory a later C inherits
        os.lseek(memfd, 0, os.SEEK_SET)
        header = json.dumps({"cpu_s": job.get("cpu_s"), "workdir": workdir}).encode()
        socket.send_fds(ctl, [header], [j_sock.fileno(), out_w, memfd])
    finally:
        os.close(memfd)
        j_sock.close()
    return c_pid


def _judge_loop(ctl: socket.socket, config: dict) -> None:
    """J's life: confined once, then one split job per control message until EOF."""
    code = 0
    try:
        _LIBC.prctl(_PR_SET_DUMPABLE, 0)
        quiet = os.open(os.devnull, os.O_RDWR)
        _confine(config, quiet, None, "/")
        while True:
            message, fds, _, _ = socket.recv_fds(ctl, 65536, 3)
            if not message or len(fds) != 3:
                break
            header = json.loads(message)
            sock_fd, out_fd, tests_fd = fds
            used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
            cpu = int(header.get("cpu_s") or config["cpu_s"])
            resource.setrlimit(resource.RLIMIT_CPU, (int(used) + cpu + 1, resource.RLIM_INFINITY))
            os.dup2(out_fd, 1)
            os.dup2(out_fd, 2)
            os.close(out_fd)
            with os.fdopen(tests_fd, "rb") as f:
                tests = f.read().decode()
            os.chdir(header["workdir"])
            os.environ.update(HOME=header["workdir"], TMPDIR=header["workdir"])
            tempfile.tempdir = header["workdir"]
            with socket.socket(fileno=sock_fd) as sock:
                report = _judge(sock, tests)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            os.chdir("/")
            payload = json.dumps(report).encode()
            ctl.sendall(b"%d\n" % len(payload) + payload)
    except BaseException:  # noqa: BLE001 - a dead judge is restarted by the worker
        code = 71
    finally:
        os._exit(code)


def _judge(sock: socket.socket, tests: str) -> dict:
    try:
        names, load_error = split.proxies(sock)
    except split.CandidateGone as e:
        return {"outcome": "error", "detail": str(e), "gone": True}
    if load_error is not None:
        return _load_failure(load_error)
    report = _execute(tests, names)
    if report.get("outcome") == "error" and "CandidateGone" in report.get("detail", ""):
        report["gone"] = True
    return report


def _load_failure(info: list) -> dict:
    name, message, err = (list(info) + [None, None, None])[:3]
    if name == "MemoryError":
        return {"outcome": "resource-limit", "detail": "memory limit (MemoryError)"}
    if err == errno.EFBIG:
        return {"outcome": "resource-limit", "detail": "file size limit"}
    if err == errno.EAGAIN:
        return {"outcome": "resource-limit", "detail": f"process count limit ({message})"}
    if name == "SystemExit":
        return {"outcome": "error", "detail": f"the program called exit({message})"}
    return {"outcome": "error", "detail": f"{name}: {message}"[:500]}


def _end(pid: int) -> int | None:
    """C's exit status once J is done, if C ended on its own (what it died of)."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            pidfd = os.pidfd_open(pid)
            try:
                select.select([pidfd], [], [], 0.2)
            finally:
                os.close(pidfd)
            done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            _killpg(pid)
            os.waitpid(pid, 0)
            return None
        return status
    except ChildProcessError:
        return None


def _confine(config: dict, stdin_fd: int, out_w: int | None, workdir: str, cpu_s: int | None = None) -> None:
    """Everything that limits a sandboxed process: its own session, death with the worker,
    rlimits, an unprivileged uid (process tier as root), a clean environment."""
    os.setsid()
    worker = os.getppid()
    os.dup2(stdin_fd, 0)
    if out_w is not None:
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
    else:
        os.dup2(stdin_fd, 1)
        os.dup2(stdin_fd, 2)
    os.chdir(workdir)
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (config["memory_mb"] * mb,) * 2)
    if cpu_s is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (config["file_size_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = config["nproc_base"] + config["max_procs"]
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    uid = config.get("run_as_uid")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    # dies with its worker; set after the uid change, which clears it
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != worker:  # the worker died before that: do not outlive it
        os._exit(70)
    env = {k: os.environ[k] for k in SAFE_ENV_KEYS if k in os.environ}
    env.update(HOME=workdir, TMPDIR=workdir)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = workdir
    sys.stdin = open(os.devnull)


def _child(
    config: dict, workdir: str, out_w: int, res_w: int | None, job: dict, body, key: bytes | None
) -> None:
    code = 70
    try:
        gc.disable()  # short-lived and memory-capped: collections would only copy pages
        # as a Python program starts: a write to a closed pipe or socket raises
        # BrokenPipeError (the warm parent's default would kill a socket test outright)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        devnull = os.open(os.devnull, os.O_RDONLY)
        _confine(config, devnull, out_w, workdir, int(job.get("cpu_s") or config["cpu_s"]))
        if job.get("repo_root"):
            os.environ["PROCHEMY_REPO_ROOT"] = job["repo_root"]
        me = os.getpid()
        report = body()
        sys.stdout.flush()
        sys.stderr.flush()
        if res_w is not None and key is not None and os.getpid() == me:  # not a fork of it
            payload = json.dumps(report).encode()
            os.write(res_w, hmac.new(key, payload, hashlib.sha256).hexdigest().encode() + payload)
        code = 0
    except BaseException:  # noqa: BLE001 - nothing may escape the child
        code = 71
    finally:
        os._exit(code)


def _execute(program: str, names: dict | None = None) -> dict:
    namespace = {"__name__": "__main__", "__builtins__": builtins, **(names or {})}
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
    except split.CandidateGone as e:
        return {"outcome": "error", "detail": f"CandidateGone: {e} before the tests ended"}
    except split.CandidateError as e:
        return {"outcome": "error", "detail": str(e)[:500]}
    except BaseException as e:  # noqa: BLE001
        return {"outcome": "error", "detail": f"{type(e).__name__}: {e}"[:500]}
    report = namespace.get("__report__")
    if isinstance(report, dict) and report.get("outcome") in _OUTCOMES:
        return report
    return {"outcome": "passed", "detail": ""}


_JAVA_TAIL = 1 << 16  # of the JVM's output, what is kept to find the verdict line in
_VERDICT = "PROCHEMY-VERDICT "
_SM_WARNING = re.compile(r"SecurityManager|terminally deprecated|consider reporting this")
_JAVA_OUTCOMES = {"passed": "passed", "failed": "failed", "memory": "resource-limit", "error": "error"}


def _jvm_flags(heap_mb: int, prefix: str = "") -> list[str]:
    """A JVM that fits the address-space limit: small heap, code cache and class space,
    one GC thread, no perf-data file."""
    flags = [
        f"-Xmx{heap_mb}m",
        "-Xss2m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-XX:CompressedClassSpaceSize=64m",
        "-XX:ReservedCodeCacheSize=32m",
        "-XX:MaxMetaspaceSize=128m",
        "-XX:-UsePerfData",
    ]
    return [prefix + f for f in flags]


def _java(job: dict) -> dict:
    """Compile the sources, run the launcher, read its verdict (see the module docstring)."""
    try:
        return _compile_and_run(job)
    except OSError as e:
        if e.errno == errno.EAGAIN:  # fork or thread refused under RLIMIT_NPROC
            return {"outcome": "resource-limit", "detail": f"process count limit ({e})"}
        return {"outcome": "error", "detail": f"the JDK could not run: {type(e).__name__}: {e}"[:500]}


def _compile_and_run(job: dict) -> dict:
    deadline = time.monotonic() + float(job["timeout_s"])
    files = []
    for rel, text in job["sources"].items():
        if os.path.isabs(rel) or ".." in rel.split("/"):
            return {"outcome": "error", "detail": f"a source path outside the work dir: {rel}"}
        os.makedirs(os.path.dirname(os.path.join("src", rel)) or "src", exist_ok=True)
        with open(os.path.join("src", rel), "w", encoding="utf-8") as f:
            f.write(text)
        files.append(os.path.join("src", rel))
    bin_dir = os.path.join(job["java_home"], "bin")
    heap = int(job["heap_mb"])
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    compile_args = [os.path.join(bin_dir, "javac"), *_jvm_flags(heap, "-J"), "-proc:none", "-nowarn"]
    compile_args += ["-encoding", "UTF-8", "-Xmaxerrs", "5", "-d", "classes", *files]
    try:
        built = subprocess.run(
            compile_args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=max(1.0, deadline - time.monotonic()),
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": "timeout", "detail": "javac did not finish in time"}
    if built.returncode != 0:
        said = built.stdout.decode("utf-8", "replace").splitlines()
        errors = [line for line in said if "error:" in line] or said[-3:]
        return {"outcome": "error", "detail": "does not compile: " + " | ".join(errors[:3])[:500]}
    nonce = os.urandom(16).hex()
    run_args = [os.path.join(bin_dir, "java"), *_jvm_flags(heap), "-Djava.security.manager=allow"]
    run_args += ["-cp", "classes", "prochemylauncher.Launcher", "classes"]
    jvm = subprocess.Popen(
        run_args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    assert jvm.stdin is not None and jvm.stdout is not None
    try:
        jvm.stdin.write(nonce.encode() + b"\n")
        jvm.stdin.close()
    except BrokenPipeError:
        pass
    tail = b""
    while True:  # to the end, keeping only the tail: the verdict is the launcher's last line
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([jvm.stdout], [], [], remaining)[0]:
            jvm.kill()
            jvm.wait()
            return {"outcome": "timeout", "detail": "the Java program did not finish in time"}
        chunk = os.read(jvm.stdout.fileno(), 1 << 16)
        if not chunk:
            break
        tail = (tail + chunk)[-_JAVA_TAIL:]
    code = jvm.wait()
    text = tail.decode("utf-8", "replace")
    marker = _VERDICT + nonce + " "
    verdict = next((line[len(marker) :] for line in text.splitlines() if line.startswith(marker)), None)
    # the launcher's own lines: its verdict, and the JDK's warning that it set a SecurityManager
    shown = "\n".join(
        line
        for line in text.splitlines()
        if not line.startswith(_VERDICT) and not (line.startswith("WARNING: ") and _SM_WARNING.search(line))
    )
    sys.stdout.write(shown[-4096:])
    if verdict is None:
        return {"outcome": "error", "detail": f"the Java program ended (exit code {code}) without a verdict"}
    kind, _, detail = verdict.partition(" ")
    return {"outcome": _JAVA_OUTCOMES.get(kind, "error"), "detail": detail[:500]}


def _assertion(error: AssertionError, program: str) -> str:
    """The failing assert statement's source line, plus its message if any."""
    lines = program.splitlines()
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == FILENAME]
    where = ""
    if frames and frames[-1].lineno and frames[-1].lineno <= len(lines):
        where = lines[frames[-1].lineno - 1].strip()
    message = str(error)
    return (where + (f"  ({message})" if message else "")).strip()[:500] or "AssertionError"


def _supervise(
    pidfd: int, out_r: int, res_r: int, timeout: float, cap: int, framed: bool = False
) -> tuple[bytearray, bytes | None, bool, int | None]:
    """Collect output and the report until the report is complete (framed: J's
    `LENGTH\\n` + JSON on its control socket) or the process exits (pidfd), or the deadline
    passes. Returns (output, report or None, timed out, wait status if it exited)."""
    deadline = time.monotonic() + timeout
    output = bytearray()
    report = bytearray()
    timed_out = False
    exited = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([pidfd, out_r, res_r], [], [], remaining)
        if out_r in ready:
            _drain_into(out_r, output, cap)
        if res_r in ready:
            chunk = os.read(res_r, 1 << 20)
            if not chunk:
                exited = True  # EOF: the writer is gone
            report.extend(chunk)
            if len(report) > _REPORT_CAP + 64:
                return output, None, False, None
            if framed and _frame_complete(report):
                return output, bytes(report), False, None
        if pidfd in ready or exited:
            break
    if framed:
        return output, (bytes(report) if _frame_complete(report) else None), timed_out, None
    return output, bytes(report), timed_out, None


def _frame_complete(data: bytearray) -> bool:
    head, sep, rest = bytes(data[:24]).partition(b"\n")
    return bool(sep) and head.isdigit() and len(data) - len(head) - 1 >= int(head)


def _parse(report: bytes) -> dict:
    head, _, payload = report.partition(b"\n")
    try:
        parsed = json.loads(payload[: int(head)])
    except ValueError:
        return {"outcome": "error", "detail": "the judge's report did not parse"}
    if not isinstance(parsed, dict) or parsed.get("outcome") not in _OUTCOMES:
        return {"outcome": "error", "detail": "the judge's report has no known outcome"}
    return parsed


def _drain_into(fd: int, sink: bytearray, cap: int) -> None:
    chunk = os.read(fd, 1 << 16)
    sink.extend(chunk)
    if len(sink) > 4 * cap:  # keep the tail only
        del sink[: len(sink) - cap]


def _drain_rest(fd: int, cap: int) -> bytearray:
    """What is left in the output pipe once its writers are gone (never blocks)."""
    os.set_blocking(fd, False)
    rest = bytearray()
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return rest
        if not chunk:
            return rest
        rest.extend(chunk)
        if len(rest) > 4 * cap:
            del rest[: len(rest) - cap]


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_leftovers(pids: list[int], keep: int | None = None) -> None:
    """Kill the candidate's process groups, and any daemon that escaped them: as a child
    subreaper this worker inherits every orphan of its children, so its own children are
    the whole inventory (never every process of a uid: those may be someone else's)."""
    for pid in pids:
        _killpg(pid)
    for _ in range(50):
        children = [c for c in _children() if c != keep]
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for child in children:
            try:
                os.waitpid(child, os.WNOHANG)
            except ChildProcessError:
                pass
        if not children:
            return
        time.sleep(0.002)


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


def _verified(report: bytes, key: bytes) -> dict | None:
    """The report, if it carries the run's key; a forged one is an error, never a verdict."""
    if not report:
        return None
    mac, payload = bytes(report[:64]), bytes(report[64:])
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).hexdigest().encode()):
        return {
            "outcome": "error",
            "detail": "the result channel carried a report without the "
            "run's key: the candidate tampered with the harness",
        }
    try:
        parsed = json.loads(payload)
    except ValueError:
        return {"outcome": "error", "detail": "the harness's report did not parse"}
    if not isinstance(parsed, dict) or parsed.get("outcome") not in _OUTCOMES:
        return {"outcome": "error", "detail": "the harness's report has no known outcome"}
    return parsed


def _classify(report: dict | None, status, timed_out: bool, timeout: float, candidate_status=None) -> dict:
    if timed_out:
        return {"outcome": "timeout", "detail": f"wall-clock limit of {timeout:g}s"}
    if report is not None and report.pop("gone", False) and candidate_status is not None:
        status = candidate_status  # the tests stopped because the candidate died: of what?
        if os.WIFEXITED(status):
            return {
                "outcome": "error",
                "detail": f"the candidate exited with code {os.WEXITSTATUS(status)} before the tests ended",
            }
    elif report is not None:
        return report
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return {"outcome": "timeout", "detail": "CPU time limit"}
        if sig == signal.SIGKILL:
            return {"outcome": "resource-limit", "detail": "killed (out of memory?)"}
        return {"outcome": "error", "detail": f"killed by signal {signal.Signals(sig).name}"}
    if report is not None:
        return report
    code = os.WEXITSTATUS(status) if status is not None else -1
    return {"outcome": "error", "detail": f"the program exited with code {code} before the tests ended"}


if __name__ == "__main__":
    main()
