#!/usr/bin/env bash
# Install Forecourt with its test tools (once) and run every check: lint (ruff), types (mypy), tests (pytest).
# Extra arguments go to pytest, e.g.  scripts/test.sh -m slow   or   scripts/test.sh tests/unit
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh dev
echo "== ruff ==" >&2
.venv/bin/ruff check .
echo "== mypy ==" >&2
.venv/bin/mypy
echo "== pytest ==" >&2
.venv/bin/pytest "$@"
