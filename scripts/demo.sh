#!/usr/bin/env bash
# Install Forecourt (once) and run the demo station. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
exec .venv/bin/forecourt demo "$@"
