# Sourced by scripts/demo.sh and scripts/test.sh: makes .venv and installs Forecourt into it (once per
# change of pyproject.toml). Needs only Python 3.11+ (set PYTHON to choose the interpreter).
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Forecourt needs Python 3.11 or newer; '$PY' is $("$PY" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 2
fi
extras=${1:-}
if [ ! -x .venv/bin/python ]; then
  echo "创建虚拟环境 .venv (creating .venv) …" >&2
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$( (cat pyproject.toml; echo "$extras") | cksum | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
  echo "安装依赖 (installing dependencies${extras:+ with $extras}) …" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
