"""The host side of a hostile run: the listeners and secrets an attack aims at, and the
checks that the host is unchanged afterwards."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prochemy.sandbox import Sandbox
from prochemy.sandbox.models import RunResult, SandboxSettings

from .attacks import LEAK, Attack

SECRET = "sk-hostile-" + uuid.uuid4().hex


@contextmanager
def targets(workdir: Path) -> Iterator[dict[str, str]]:
    """A Unix socket in /var/tmp and a TCP listener on loopback that accept anything, a
    secret in the environment and in a dotfile of the home, and a file to write into."""
    token = uuid.uuid4().hex[:10]
    sock_path = Path("/var/tmp") / f"prochemy-hostile-{token}.sock"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(sock_path))
    os.chmod(sock_path, 0o777)
    unix.listen(8)
    tcp = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept(server: socket.socket) -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                pass

    threads = [threading.Thread(target=accept, args=(s,), daemon=True) for s in (unix, tcp)]
    for t in threads:
        t.start()
    dotfile = Path.home() / f".prochemy-hostile-{token}"
    dotfile.write_text(SECRET)
    target = workdir / "user-file.py"
    target.write_text("x = 1\n")
    old = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = SECRET
    try:
        yield {"socket": str(sock_path), "port": str(tcp.getsockname()[1]), "target": str(target)}
    finally:
        stop.set()
        for t in threads:
            t.join()
        unix.close()
        tcp.close()
        sock_path.unlink(missing_ok=True)
        dotfile.unlink(missing_ok=True)
        if old is None:
            os.environ.pop("OPENAI_API_KEY", None)
        else:
            os.environ["OPENAI_API_KEY"] = old


def solution_for(attack: Attack, where: dict[str, str]) -> str:
    return (
        attack.solution.replace("{socket}", where["socket"])
        .replace("{port}", where["port"])
        .replace("{target}", where["target"])
        .replace("{home}", str(Path.home()))
    )


def descendants(box: Sandbox) -> int:
    """How many processes the sandbox's workers have under them (bwrap's own, the worker,
    and anything a candidate left behind)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    roots = set(box.worker_pids())
    count, frontier = 0, set(roots)
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        count += len(frontier)
    return count


def contained(attack: Attack, result: RunResult, where: dict[str, str]) -> tuple[bool, str]:
    """Whether the run was contained, and why not."""
    if result.outcome.value not in attack.allowed:
        return False, f"outcome {result.outcome.value} ({result.detail[:200]})"
    if LEAK in result.output_tail or LEAK in result.detail:
        return False, result.output_tail[result.output_tail.find(LEAK) :][:300]
    if SECRET in result.output_tail or SECRET in result.detail:
        return False, "the secret appears in the result"
    if Path(where["target"]).read_text() != "x = 1\n":
        return False, "the user's file changed"
    return True, ""


def settings(tier: str) -> SandboxSettings:
    return SandboxSettings(
        level=tier, timeout_s=4, cpu_s=4, memory_mb=512, file_size_mb=8, max_procs=16, tmp_mb=64, workers=1
    )


async def run_attack(box: Sandbox, attack: Attack, where: dict[str, str]) -> RunResult:
    return await box.judge(solution_for(attack, where), attack.tests)
