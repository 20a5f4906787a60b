#!/usr/bin/env bash
# README command 2: the whole test suite (the small model serves the real-model tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh small
exec .venv/bin/python -m pytest -q --durations=25 "$@"
