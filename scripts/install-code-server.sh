#!/usr/bin/env bash
# VS Code in the browser for tests/e2e/test_vscode_browser.py: code-server from npm into
# .tools/code-server, with what its native modules need from Debian, and Debian's chromium
# for Playwright. Idempotent; run by scripts/setup.sh. Only the npm and Debian registries are
# reachable here, so the one GitHub download of the install (@vscode/ripgrep's `rg`) is served
# from Debian's ripgrep through that package's own download cache.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.100.3            # the newest code-server whose engines.node (20) this machine's Node meets
RIPGREP_PACKAGE=1.15.11    # the @vscode/ripgrep of that code-server's VS Code (1.100.3)
RIPGREP_TAG=v13.0.0-10
dest=.tools/code-server
bin=$dest/node_modules/.bin/code-server

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "^$VERSION "; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-code-server: needs root for apt (chromium, build headers); skipped" >&2
  exit 1
fi
pkgs="chromium ripgrep libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config build-essential python3"
apt-get install -y $pkgs >/dev/null 2>&1 ||
  (apt-get update >/dev/null 2>&1 && apt-get install -y $pkgs >/dev/null 2>&1)

cache="$(node -e 'console.log(require("os").tmpdir())')/vscode-ripgrep-cache-$RIPGREP_PACKAGE"
asset="$cache/ripgrep-$RIPGREP_TAG-x86_64-unknown-linux-musl.tar.gz"
if [ ! -f "$asset" ]; then
  mkdir -p "$cache/rg-dir"
  cp "$(command -v rg)" "$cache/rg-dir/rg"
  tar czf "$asset" -C "$cache/rg-dir" rg
  rm -rf "$cache/rg-dir"
fi

mkdir -p "$dest"
(
  cd "$dest"
  [ -f package.json ] || echo '{"name": "prochemy-test-tools", "private": true}' > package.json
  # as root, code-server's postinstall wants unsafe-perm; node-pty's runs `npx node-gyp`
  npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --no-audit --no-fund --loglevel=error "code-server@$VERSION" >/dev/null
)
"$bin" --version | head -1
