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
if [ $# -gt 0 ]; then                 # a choice of tests: as asked, in one process
    echo "== pytest $* ==" >&2
    exec .venv/bin/pytest "$@"
fi
# the suite, kept near 15 minutes: two workers (tests/conftest.py says how tests are grouped), then the tests
# marked serial alone; the slowest of each listed
status=0
echo "== pytest: two workers ==" >&2
.venv/bin/pytest -n 2 --dist loadgroup -m "not slow and not serial" --durations=30 || status=$?
echo "== pytest: serial ==" >&2
.venv/bin/pytest -m "serial and not slow" --durations=10 || status=$?
exit $status
