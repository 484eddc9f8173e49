#!/usr/bin/env bash
# Install Forecourt (once) and run the demo station. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh demo   # the embedded PostgreSQL and broker (an explicit argument: a sourced script would see ours)
scripts/web.sh   # the back office at /admin/ (built once per change of control_api/web)
exec .venv/bin/forecourt demo "$@"
