"""A real TimescaleDB for the compatibility suite: PGlite (PostgreSQL 17 in WebAssembly) with TimescaleDB 2.23,
served over the PostgreSQL wire protocol by ``tools/pglite/server.mjs`` (see docs/timescaledb.md).

It needs Node.js and the npm package in ``tools/pglite/node_modules``; without them every test here is skipped
with a reason that says how to get them (``scripts/test.sh`` installs the package when ``npm`` is on PATH).

PGlite is one PostgreSQL backend behind a socket: it serves ONE connection at a time and queues the next. So the
migration runner (which opens its own connection) runs in a session fixture before any test connects, and each test
opens one connection at a time and closes it before it ends.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from forecourt.migrations import migrate

PGLITE_DIR = Path(__file__).resolve().parents[2] / "tools" / "pglite"
READY = "PGLITE READY "
START_TIMEOUT_S = 90.0
ENABLE = "npm ci --prefix tools/pglite --no-audit --no-fund"  # from the repository root


def missing_prerequisite() -> str | None:
    """Why the suite cannot run here, with what to do about it; None when it can."""
    if shutil.which("node") is None:
        return ("TimescaleDB compatibility suite skipped: `node` is not on PATH. Install Node.js >= 18 "
                f"(e.g. apt-get install nodejs npm), then run `{ENABLE}` in the repository (scripts/test.sh does "
                "this when npm is on PATH)")
    if not (PGLITE_DIR / "node_modules" / "@unni-craftsman" / "pglite").is_dir():
        return ("TimescaleDB compatibility suite skipped: tools/pglite/node_modules is not installed. Run "
                f"`{ENABLE}` in the repository (scripts/test.sh does this when npm is on PATH)")
    return None


def _lines(stream: IO[str], into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def timescale_server() -> Iterator[str]:
    """Start ``node tools/pglite/server.mjs`` on a free loopback port; yields its psycopg URL (sslmode=disable)."""
    reason = missing_prerequisite()
    if reason:
        pytest.skip(reason)
    log_dir = Path(tempfile.mkdtemp(prefix="forecourt-pglite-"))
    stderr_path = log_dir / "server.stderr"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(["node", str(PGLITE_DIR / "server.mjs"), "--port", "0"], cwd=PGLITE_DIR,
                                stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True)
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        url = _wait_ready(proc, lines, stderr_path)
        yield url
    finally:
        _stop(proc)
        shutil.rmtree(log_dir, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen[str], lines: queue.Queue[str | None], stderr_path: Path) -> str:
    try:
        while True:
            line = lines.get(timeout=START_TIMEOUT_S)
            if line is None:
                pytest.fail(f"PGlite server exited with {proc.wait()} before it was ready:\n{_tail(stderr_path)}")
            if line.startswith(READY):
                return line.removeprefix(READY).strip()
    except queue.Empty:
        pytest.fail(f"PGlite server not ready within {START_TIMEOUT_S:.0f} s:\n{_tail(stderr_path)}")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def timescale_url(timescale_server: str) -> str:
    """The PGlite TimescaleDB with the project's migrations applied (no other connection is open meanwhile)."""
    migrate(timescale_server)
    return timescale_server
