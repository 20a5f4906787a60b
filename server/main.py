"""`prochemy-lsp`: the Prochemy language server over stdio (or TCP for debugging)."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import sys
from pathlib import Path

import platformdirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prochemy-lsp", description=__doc__)
    parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    # vscode-languageclient appends --stdio to the command (TransportKind.stdio); the default
    parser.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")
    parser.add_argument("--log-file", type=Path, help="default: <user log dir>/prochemy-lsp.log")
    args = parser.parse_args(argv)
    log_file = args.log_file or Path(platformdirs.user_log_dir("prochemy")) / "prochemy-lsp.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    signal.signal(signal.SIGTERM, _terminate)
    from .lsp.setup import create_server

    server = create_server()
    server.log_file = log_file
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM: stop now, with everything we started. Raising SystemExit is not enough:
    pygls then waits for its stdin reader thread, which waits for the editor to close the
    pipe. The atexit handlers stop an embedded llama-server; sandbox workers and their
    candidates die with us (bwrap --die-with-parent, PR_SET_PDEATHSIG, EOF on stdin)."""
    logging.getLogger("prochemy.lsp").info("SIGTERM: stopping")
    try:
        atexit._run_exitfuncs()
        logging.shutdown()
    finally:
        os._exit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
