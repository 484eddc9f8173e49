"""Two versions of the pay endpoint compared by the station server's CPU per payment, in interleaved bursts.

    .venv/bin/python -m benchmarks.payments_ab /tmp/before /work/wt-payperf     # 6 rounds of 600 payments

Each argument is a source tree (a checkout or ``git archive`` of a commit). Both servers run at once, each
``benchmarks.bench_payments:app`` of its own tree in its own uvicorn process with ``forecourt api``'s
options (one worker), on one database migrated by the tree this module runs from. Round after round the
16 clients pay a burst of cash payments at one server, then at the other (ABBA order, so neither always
goes first), and the CPU of that server alone over its burst is divided by the burst's payments, and so is
the CPU of the database's backends over it (the other server's pool sits idle meanwhile): server, database
and load client share the cores, so a change that moves work into PostgreSQL shows there. On a
machine shared with other work the absolute figures move from minute to minute; bursts a few seconds
apart see the same conditions, so a change is kept only when it is lower in every round
(docs/payments.md "Performance"). ``BENCH_AB_ROUNDS`` and ``BENCH_AB_PAYMENTS`` change the size.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from benchmarks.bench_ingest import _database
from benchmarks.bench_payments import _cpu_s, _p99, _pay_all, _prepare, database_cpu, database_cpu_s, serve

ROUNDS = int(os.environ.get("BENCH_AB_ROUNDS", "6"))
PAYMENTS = int(os.environ.get("BENCH_AB_PAYMENTS", "600"))
WARM_UP = 200


async def compare(trees: list[Path]) -> list[list[tuple[float, float, float, float]]]:
    """Per tree, per round: (server CPU ms per payment, payments/s, p99 ms, PostgreSQL CPU ms per payment)."""
    async with AsyncExitStack() as stack:
        url = await _database(stack)
        orders = await _prepare(url, len(trees) * (WARM_UP + ROUNDS * PAYMENTS))
        servers = [await stack.enter_async_context(serve(url, tree)) for tree in trees]
        for _pid, port in servers:    # connections, caches and imports warmed before anything is counted
            await _pay_all(port, [orders.pop() for _ in range(WARM_UP)])
        figures: list[list[tuple[float, float, float, float]]] = [[] for _ in trees]
        for n in range(ROUNDS):
            turn = list(enumerate(servers)) if n % 2 == 0 else list(reversed(list(enumerate(servers))))
            for side, (pid, port) in turn:
                burst = [orders.pop() for _ in range(PAYMENTS)]
                cpu_before, database_before = _cpu_s(pid), await database_cpu(url)
                rate, latencies = await _pay_all(port, burst)
                server_ms = (_cpu_s(pid) - cpu_before) * 1000 / PAYMENTS
                # the other server sits idle meanwhile: what the backends used is this one's
                database_ms = await database_cpu_s(url, database_before) * 1000 / PAYMENTS
                figures[side].append((server_ms, rate, _p99(latencies), database_ms))
            load = os.getloadavg()[0]
            shown = [f"{t.name}: {f[-1][0]:.3f} ms + database {f[-1][3]:.3f} ms, {f[-1][1]:.0f}/s, "
                     f"p99 {f[-1][2]:.0f} ms"
                     for t, f in zip(trees, figures, strict=True)]
            print(f"round {n + 1}: " + " | ".join(shown) + f" (load {load:.1f})", flush=True)
    return figures


def main(argv: list[str]) -> int:
    trees = [Path(a).resolve() for a in argv]
    if len(trees) != 2 or not all((t / "benchmarks" / "bench_payments.py").exists() for t in trees):
        print(__doc__)
        return 2
    before, after = asyncio.run(compare(trees))
    lower = sum(b[0] < a[0] for a, b in zip(before, after, strict=True))
    lower_total = sum(b[0] + b[3] < a[0] + a[3] for a, b in zip(before, after, strict=True))
    print(f"{trees[0]}: median {statistics.median(f[0] for f in before):.3f} ms of server CPU a payment, "
          f"{statistics.median(f[0] + f[3] for f in before):.3f} ms with the database's; "
          f"{trees[1]}: median {statistics.median(f[0] for f in after):.3f} ms, "
          f"{statistics.median(f[0] + f[3] for f in after):.3f} ms with the database's; "
          f"the second lower in {lower} of {ROUNDS} rounds ({lower_total} with the database's)")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
