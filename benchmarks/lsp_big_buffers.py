"""Large buffers in the language server: how long a code action takes, and the server's
memory while a buffer is open and after it is closed. Writes
benchmarks/results/lsp-big-buffers.json.

    .venv/bin/python benchmarks/lsp_big_buffers.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# `tests` from the repository, after site-packages: its bare `prochemy/` folder must not
# shadow an installed (non-editable) prochemy
sys.path.append(str(Path(__file__).resolve().parent.parent))

from tests.lsp_client import RawClient  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def rss_mb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return -1


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workspace, cache = Path(tmp) / "ws", Path(tmp) / "cache"
        workspace.mkdir()
        cache.mkdir()
        client = RawClient(workspace, cache)
        pid = client.process.pid
        start = rss_mb(pid)
        for size_mb in (0.1, 0.45, 1.9, 5.0):
            body = "def f():\n    ...\n" + "x = 1\n" * int(size_mb * 1e6 / 6)
            uri = (workspace / f"big-{size_mb}.py").as_uri()
            client.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": body}},
            )
            t0 = time.monotonic()
            reply = client.request(
                "textDocument/codeAction",
                {
                    "textDocument": {"uri": uri},
                    "context": {"diagnostics": []},
                    "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}},
                },
            )
            seconds = time.monotonic() - t0
            opened = rss_mb(pid)
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            client.request("workspace/executeCommand", {"command": "prochemy.status", "arguments": []})
            time.sleep(0.5)
            rows.append(
                {
                    "buffer_mb": size_mb,
                    "code_action_s": round(seconds, 3),
                    "actions": len(reply.get("result") or []),
                    "rss_open_mb": opened,
                    "rss_after_close_mb": rss_mb(pid),
                }
            )
            print(json.dumps(rows[-1]))
        client.close()
    record = {
        "benchmark": "language server: code action on large buffers, memory after didClose",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rss_start_mb": start,
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lsp-big-buffers.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
