#!/usr/bin/env bash
# README command 1: the main job on the embedded default model, with no configuration:
# generate + check one HumanEval task, then a small Prochemy refinement (real MBPP tasks
# plus validated synthetic ones, held-out HumanEval tasks) and its report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh default
echo "== prochemy generate --humaneval HumanEval/0 --check"
.venv/bin/prochemy generate --humaneval HumanEval/0 --check
echo "== prochemy refine (small budget: 3 MBPP + 1 synthetic training tasks, 3 prompts, 2 iterations, 10 held-out)"
.venv/bin/prochemy refine --benchmark humaneval --k-real 3 --k-synthetic 1 --n 3 --k-max 2 \
  --held-out 10 --plot /tmp/prochemy-demo-refine.png
