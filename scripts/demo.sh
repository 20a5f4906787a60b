#!/usr/bin/env bash
# README command 1: the main job on the embedded default model, with no configuration:
# mine the example repository's own tests, refine a prompt against them (small budget),
# store it for the project, then implement one of its functions with the stored prompt and
# run that function's tests on the result.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh default
echo "== prochemy mine examples/shelfkit"
.venv/bin/prochemy mine examples/shelfkit
echo "== prochemy refine examples/shelfkit (small budget: 4 real + 2 variant tasks, 3 prompts, 2 iterations)"
.venv/bin/prochemy refine examples/shelfkit --k-real 4 --k-synthetic 2 --n 3 --k-max 2 \
  --held-out 6 --plot /tmp/prochemy-demo-refine.png
echo "== prochemy generate examples/shelfkit --function shelfkit.text:slugify --check"
.venv/bin/prochemy generate examples/shelfkit --function shelfkit.text:slugify --check
