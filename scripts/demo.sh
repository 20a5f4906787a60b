#!/usr/bin/env bash
# README command 1: the main job on the embedded default model, with no configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh default
echo "== prochemy generate --humaneval HumanEval/0 --check"
.venv/bin/prochemy generate --humaneval HumanEval/0 --check
echo "== prochemy bench humaneval --tasks 0-9 (pass@1 of the paper's seed prompt)"
.venv/bin/prochemy bench humaneval --tasks 0-9 --name demo-humaneval-0-9 --out /tmp/prochemy-demo
