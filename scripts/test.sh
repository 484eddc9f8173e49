#!/usr/bin/env bash
# Install Forecourt with its test tools (once) and run every check: lint (ruff), types (mypy), tests (pytest).
# Extra arguments go to pytest, e.g.  scripts/test.sh -m slow   or   scripts/test.sh tests/unit
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh dev
# PGlite + TimescaleDB for tests/compat (docs/timescaledb.md); without npm those tests skip
if command -v npm >/dev/null && { [ ! -d tools/pglite/node_modules ] || [ tools/pglite/package-lock.json -nt tools/pglite/node_modules ]; }; then
    echo "== npm ci tools/pglite ==" >&2
    npm ci --prefix tools/pglite --no-audit --no-fund
fi
scripts/browser.sh   # Chromium, chromedriver and CJK fonts for the browser tests (tests/e2e/web)
scripts/web.sh       # build the web apps (control_api/web → dist) when their sources changed
echo "== ruff ==" >&2
.venv/bin/ruff check .
echo "== mypy ==" >&2
.venv/bin/mypy
echo "== pytest ==" >&2
.venv/bin/pytest --durations=40 "$@"   # the slowest tests listed: the suite is kept near 15 minutes
