"""`prochemy-lsp`: the language server entry point (the server itself is a later issue)."""

from __future__ import annotations

import sys


def main() -> int:
    print("prochemy-lsp: the language server is not built yet; use the `prochemy` CLI "
          "(prochemy generate / prochemy bench).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
