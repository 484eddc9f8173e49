"""How long ``forecourt audit verify`` takes per 100,000 rows of the audit chain.

Writes ``ROWS`` correctly chained rows with one binary COPY (hashes computed in Python), then times
``business_services.audit.verify.verify`` over them ``REPEATS`` times (best is reported, with the
median in the note). The baseline is a bare server-side-cursor read of the same rows without any
hashing, so the ratio shows what the checking itself costs. Uses ``FORECOURT_DATABASE_URL`` when set,
else starts the embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from contextlib import AsyncExitStack

import psycopg

from benchmarks.bench_ingest import _database
from benchmarks.figures import Figure
from business_services.audit.verify import verify
from tests.support.audit_chain import write_chain

ROWS = 100_000
REPEATS = 3


async def _bare_read(conn: psycopg.AsyncConnection) -> int:
    count = 0
    async with conn.transaction(), conn.cursor(name="bare") as cur:
        cur.itersize = 5000
        await cur.execute("SELECT * FROM business.audit_log ORDER BY seq")
        async for _ in cur:
            count += 1
    return count


async def run() -> list[Figure]:
    async with AsyncExitStack() as stack:
        url = await _database(stack)
        async with await psycopg.AsyncConnection.connect(url) as conn:
            started = time.perf_counter()
            await write_chain(conn, ROWS)
            write_s = time.perf_counter() - started
            times, reads = [], []
            for _ in range(REPEATS):
                started = time.perf_counter()
                verdict = await verify(conn)
                times.append(time.perf_counter() - started)
                if not verdict.ok or verdict.checked != ROWS:
                    raise RuntimeError(f"the benchmark chain did not verify: {verdict}")
                started = time.perf_counter()
                await _bare_read(conn)
                reads.append(time.perf_counter() - started)
    per_100k, read_100k = min(times) * 100_000 / ROWS, min(reads) * 100_000 / ROWS
    note = (f"median {statistics.median(times):.2f} s over {REPEATS} runs of {ROWS} rows; "
            f"writing them took {write_s:.1f} s")
    return [Figure("audit verify per 100k rows", per_100k, "s", read_100k, "server-cursor read, no hashing", note),
            Figure("audit verify rate", ROWS / min(times), "rows/s")]


if __name__ == "__main__":
    for figure in asyncio.run(run()):
        print(figure.as_dict("audit"))
