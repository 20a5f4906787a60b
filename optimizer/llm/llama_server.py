"""llama.cpp's OpenAI-compatible `llama-server`: built once from source, run on loopback.

The sources come from the llama-cpp-python sdist on PyPI (the only registry these machines
reach). The built binary and the shared libraries it links stay together in one folder.
A started server may never outlive its parent: it gets PR_SET_PDEATHSIG (covers SIGKILL of
the parent), and atexit plus a SIGTERM handler in the CLI stop it on a normal exit.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import platformdirs

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
# Built for this CPU (-march=native) but without AMX: hosts can advertise AMX yet trap its
# tile instructions (SIGILL at the first matrix product, seen on a Xeon here), and on two
# cores decoding is bound by memory, not by the matrix unit. Part of the install folder's
# name, so a binary built with other flags is rebuilt, not reused.
BUILD_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
BUILD_TAG = "noamx"

log = logging.getLogger("prochemy.llama_server")


class ServerError(Exception):
    """The embedded server could not be built or started; the message says why."""


def install_dir() -> Path:
    return (
        Path(platformdirs.user_data_dir("prochemy")) / f"llama-server-{LLAMA_CPP_PYTHON_VERSION}-{BUILD_TAG}"
    )


def server_binary() -> Path:
    return install_dir() / "llama-server"


def build_server(log: Callable[[str], None] = print, jobs: int | None = None) -> Path:
    """Build llama-server from the vendored llama.cpp of the pinned sdist; no-op if built."""
    binary = server_binary()
    if binary.is_file():
        log(f"llama-server already built: {binary}")
        return binary
    if shutil.which("cmake") is None:
        raise ServerError("building llama-server needs cmake and a C++ compiler (apt install cmake g++)")
    work = Path(tempfile.mkdtemp(prefix="prochemy-llama-build-"))
    try:
        log(f"downloading llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sources from PyPI ...")
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--quiet",
                "-d",
                str(work),
                f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
            ]
        )
        sdist = next(work.glob("llama_cpp_python-*.tar.gz"))
        with tarfile.open(sdist) as archive:
            archive.extractall(work, filter="data")
        source = next(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
        build = work / "build"
        log("building llama-server with CMake (about 13 minutes on 2 cores) ...")
        _run(
            [
                "cmake",
                "-S",
                str(source),
                "-B",
                str(build),
                "-DCMAKE_BUILD_TYPE=Release",
                "-DLLAMA_CURL=OFF",
                "-DLLAMA_BUILD_TESTS=OFF",
                "-DLLAMA_BUILD_EXAMPLES=OFF",
                "-DLLAMA_BUILD_SERVER=ON",
                f"-DCMAKE_C_FLAGS={BUILD_FLAGS}",
                f"-DCMAKE_CXX_FLAGS={BUILD_FLAGS}",
            ]
        )
        _run(
            [
                "cmake",
                "--build",
                str(build),
                "--target",
                "llama-server",
                "-j",
                str(jobs or os.cpu_count() or 2),
            ]
        )
        staged = install_dir().with_suffix(".partial")
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(build / "bin", staged)
        staged.replace(install_dir())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"built {binary}")
    return binary


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServerError(f"{' '.join(cmd[:3])} ... failed:\n{(done.stdout + done.stderr)[-3000:]}")


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> Callable[[], None]:
    def preexec() -> None:
        # SIGKILL: the server keeps nothing worth a graceful stop, and llama-server's graceful
        # shutdown can hang while slots decode (seen: an orphan after its parent was killed)
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """One llama-server process serving one GGUF file on a loopback port."""

    def __init__(
        self,
        model: Path,
        log_dir: Path,
        parallel: int = 4,
        ctx_per_slot: int = 4096,
        threads: int | None = None,
        binary: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.model = model
        self.extra_args = extra_args
        self.binary = binary or server_binary()
        self.parallel = parallel
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads or os.cpu_count() or 2
        self.log_dir = log_dir
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def alias(self) -> str:
        return self.model.stem

    def start(self) -> None:
        """Spawn the process; poll_ready() says when it answers (see shared_server)."""
        if not self.binary.is_file():
            raise ServerError(
                f"llama-server is not built yet (looked for {self.binary}). "
                "Build it once with: prochemy model build-server"
            )
        if others := other_servers():
            # seen: two servers on 2 cores each decoded several times slower, not 2x
            log.warning(
                "another llama-server is already running (pid %s): both share this machine's "
                "%d cores and decode far slower; stop it before measuring speed",
                ", ".join(map(str, others)),
                os.cpu_count() or 1,
            )
        self.port = free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"llama-server-{self.port}.log"
        cmd = [
            str(self.binary),
            "--model",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--alias",
            self.alias,
            "--parallel",
            str(self.parallel),
            "--ctx-size",
            str(self.ctx_per_slot * self.parallel),
            "--threads",
            str(self.threads),
            "--no-webui",
            *self.extra_args,
        ]
        with self.log_path.open("wb") as log_file:
            # the binary links the shared libraries built beside it
            env = {**os.environ, "LD_LIBRARY_PATH": str(self.binary.parent)}
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )
        _LIVE.add(self)

    def poll_ready(self) -> bool:
        """True once /health answers 200; raises if the process died."""
        assert self.process is not None
        if self.process.poll() is not None:
            code = self.process.returncode
            if code == -signal.SIGILL:
                raise ServerError(
                    f"llama-server stopped on an illegal instruction while loading {self.model}: "
                    f"{self.binary} uses CPU instructions this machine does not allow (built on "
                    f"another machine?). Delete {self.binary.parent} and run: prochemy model build-server"
                )
            raise ServerError(
                f"llama-server exited with code {code} while loading {self.model}:\n{self.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        process, self.process = self.process, None
        _LIVE.discard(self)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


_LIVE: set[LlamaServer] = set()
_LIVE_LOCK = threading.Lock()


def other_servers() -> list[int]:
    """Pids of running llama-server processes this process did not start (any user's, any
    model's); empty where /proc is not readable."""
    ours = {s.process.pid for s in list(_LIVE) if s.process is not None}
    found = []
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) in ours:
            continue
        try:
            argv0 = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if os.path.basename(argv0) == b"llama-server":
            found.append(int(entry.name))
    return sorted(found)


@atexit.register
def stop_all() -> None:
    with _LIVE_LOCK:
        for server in list(_LIVE):
            server.stop()


_SHARED: dict[tuple[str, int, int, int, tuple[str, ...]], LlamaServer] = {}


async def shared_server(
    model: Path,
    log_dir: Path,
    parallel: int,
    ctx_per_slot: int,
    threads: int | None,
    start_timeout_s: float,
    extra_args: tuple[str, ...] = (),
) -> LlamaServer:
    """One running server per model and shape in this process, started on first use."""
    key = (str(model), parallel, ctx_per_slot, threads or 0, extra_args)
    server = _SHARED.get(key)
    if server is not None and server.process is not None and server.process.poll() is None:
        return server
    server = LlamaServer(model, log_dir, parallel, ctx_per_slot, threads, extra_args=extra_args)
    _SHARED[key] = server
    server.start()  # in the caller's thread: PR_SET_PDEATHSIG is tied to the forking thread
    deadline = time.monotonic() + start_timeout_s
    while not await asyncio.to_thread(server.poll_ready):
        if time.monotonic() > deadline:
            server.stop()
            raise ServerError(
                f"llama-server did not become ready in {start_timeout_s:.0f}s:\n{server.log_tail()}"
            )
        await asyncio.sleep(0.2)
    return server
