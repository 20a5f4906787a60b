#!/usr/bin/env bash
# The habits: lint, format and types. Run by the test suite (tests/unit/test_habits.py) and by
# pre-commit. Uses the project's .venv (scripts/setup.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
$py -m ruff check .
$py -m ruff format --check --quiet .
# mypy cannot follow pyproject's package-dir mapping (prochemy.optimizer -> optimizer/):
# check a shadow tree of symlinks with the installed layout instead.
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/prochemy"
cp prochemy/__init__.py "$tree/prochemy/"
for part in optimizer sandbox server; do ln -s "$PWD/$part" "$tree/prochemy/$part"; done
root=$PWD
(cd "$tree" && MYPYPATH="$tree" "$root/$py" -m mypy --config-file "$root/pyproject.toml" \
    --cache-dir "$root/.mypy_cache" -p prochemy)
