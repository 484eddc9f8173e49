"""The station server's instructions per cash payment, counted by valgrind: a figure the machine's load does not move.

    .venv/bin/python -m benchmarks.payments_instructions /tmp/before /work/wt-E     # 200 payments each

On a machine shared with other work, CPU time per payment moves by more than a small change saves, even in the
interleaved bursts of ``benchmarks.payments_ab``. The instructions a payment executes do not: each source tree
(a checkout or ``git archive`` of a commit) runs its ``benchmarks.bench_payments:app`` in one process under
``valgrind --tool=callgrind`` (the station role, the real PostgreSQL, the in-process ASGI app: no HTTP parser),
pays ``BENCH_INSTRUCTION_WARM_UP`` cash payments uncounted, then ``BENCH_INSTRUCTION_PAYMENTS`` counted, one at
a time, and prints the instructions per payment (callgrind's ``Ir``; instrumentation switched on around the
counted ones only, so imports and start-up are not in it). Repeated runs of one tree agree within about 1 %.
What it leaves out: uvicorn's HTTP parsing, the concurrency of 16 clients, and PostgreSQL's side (the
database's CPU is ``bench_payments``' fourth figure). Needs ``valgrind`` (Debian's package) on PATH.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

PAYMENTS = int(os.environ.get("BENCH_INSTRUCTION_PAYMENTS", "200"))
WARM_UP = int(os.environ.get("BENCH_INSTRUCTION_WARM_UP", "50"))


async def _pay(url: str, order_nos: list[str]) -> None:
    """In the child, from the tree on PYTHONPATH: pay ``order_nos`` in cash one by one through the app, counting
    (callgrind instrumentation on) all but the first WARM_UP."""
    from benchmarks.bench_payments import SECRET, STATION
    from benchmarks.bench_payments import app as bench_app
    from control_api.security import Principal, TokenIssuer

    os.environ["BENCH_PAYMENTS_DATABASE_URL"] = url
    app = bench_app()
    token = TokenIssuer(SECRET).issue(Principal("bench-cashier", None, frozenset(), frozenset({"payment:take"}),
                                                frozenset({STATION})))
    path = f"/api/v1/stations/{STATION}/payments"
    answered: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answered.append(int(message["status"]))

    async def pay(order_no: str) -> None:
        body = json.dumps({"terminal": "pos-1", "order_nos": [order_no],
                           "tenders": [{"method": "cash", "amount_fen": 30000}]}).encode()

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}
        headers = [(b"host", b"bench"), (b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()), (b"authorization", f"Bearer {token}".encode()),
                   (b"idempotency-key", str(uuid.uuid4()).encode())]
        await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                   "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                   "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}},
                  receive, send)
        if answered[-1] != 200:
            raise RuntimeError(f"payment refused: {answered[-1]}")

    async with app.router.lifespan_context(app):
        for order_no in order_nos[:WARM_UP]:
            await pay(order_no)
        _instrument("on")
        for order_no in order_nos[WARM_UP:]:
            await pay(order_no)
        _instrument("off")


def _instrument(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)  # noqa: S607


async def count(tree: Path, url: str, order_nos: list[str]) -> float:
    """Instructions per counted payment of ``tree``'s pay endpoint."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    child = await asyncio.create_subprocess_exec(
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, url, *order_nos, env=env, cwd=tree, stderr=asyncio.subprocess.PIPE)
    _, stderr = await child.communicate()
    found = re.search(rb"Collected : (\d+)", stderr)
    if child.returncode != 0 or found is None:
        raise RuntimeError(f"{tree}: {stderr.decode(errors='replace')[-2000:]}")
    return int(found[1]) / (len(order_nos) - WARM_UP)


async def main(trees: list[Path]) -> None:
    from benchmarks.bench_ingest import _database
    from benchmarks.bench_payments import _prepare

    async with AsyncExitStack() as stack:
        url = await _database(stack)
        orders = await _prepare(url, len(trees) * (WARM_UP + PAYMENTS))
        for tree in trees:
            mine, orders = orders[:WARM_UP + PAYMENTS], orders[WARM_UP + PAYMENTS:]
            print(f"{tree}: {await count(tree, url, mine) / 1e6:.3f} M instructions per cash payment "
                  f"({PAYMENTS} counted)", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and "://" in sys.argv[1]:       # the child under valgrind: URL ORDER_NO...
        asyncio.run(_pay(sys.argv[1], sys.argv[2:]))
    elif len(sys.argv) > 1 and all((Path(a) / "benchmarks" / "bench_payments.py").exists() for a in sys.argv[1:]):
        asyncio.run(main([Path(a).resolve() for a in sys.argv[1:]]))
    else:
        print(__doc__)
        sys.exit(2)
