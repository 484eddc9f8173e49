"""Orders paid per second at the station server through the real pay endpoint, and its p99 latency.

The station server's API runs in its own process (uvicorn, ``FORECOURT_ROLE`` station, the real app and
PostgreSQL); ``CLIENTS`` concurrent clients each pay one order at a time in cash (``POST
/api/v1/stations/{station}/payments`` with an Idempotency-Key), ``ORDERS`` orders in all. The baseline,
measured in the same run on the same database, is a bare INSERT of a payment row (the same table shape)
by as many concurrent connections: what the database alone allows. Goal on the reference machine:
≥ 500 payments/s with p99 < 50 ms. Uses ``FORECOURT_DATABASE_URL`` when set, else an embedded PostgreSQL.

Server, PostgreSQL and the load client share the machine's cores, so the rate is a CPU budget: the third
figure, the workers' CPU per payment, is the one to compare changes by when other work shares the machine, and
the fourth, the CPU of the database backends the server's pool holds, shows the database's share of the budget
(as large as the server's: docs/payments.md "Performance"). ``benchmarks.payments_instructions`` counts the
server's instructions per payment instead, a figure the machine's load does not move.
The clients speak HTTP through ``benchmarks/http_load.py`` (lean, so that the client takes little of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from fastapi import FastAPI

from benchmarks.bench_ingest import _database
from benchmarks.figures import Figure
from benchmarks.http_load import Connection
from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.shifts.model import OpenShift
from business_services.stations import repository as stations
from business_services.stations.model import StationRecord
from business_services.unit_of_work import UnitOfWork
from control_api.app import create_app
from control_api.security import Principal, TokenIssuer
from forecourt.local import free_port, wait_for_port
from forecourt.roles import Role, policy

STATION = "demo-01"
CLIENTS = int(os.environ.get("BENCH_PAYMENT_CLIENTS", "16"))
ORDERS = int(os.environ.get("BENCH_PAYMENT_ORDERS", "3000"))
# the open-loop phase: payments offered at the goal's rate, due one every 1/RATE s whatever the answers
RATE = float(os.environ.get("BENCH_PAYMENT_RATE", "500"))
AT_RATE = int(os.environ.get("BENCH_PAYMENT_AT_RATE", "3000"))
# uvicorn processes: `forecourt api`'s one by default (the production default: docs/payments.md "Performance");
# more only to see what a second process would give
WORKERS = int(os.environ.get("BENCH_PAYMENT_WORKERS", "1"))
SECRET = "bench-payments-secret-of-at-least-32-bytes"   # noqa: S105 - signs this run's tokens only


def app() -> FastAPI:
    """The station server's app (uvicorn --factory), on ``BENCH_PAYMENTS_DATABASE_URL``."""
    return create_app(os.environ["BENCH_PAYMENTS_DATABASE_URL"], tokens=TokenIssuer(SECRET), role=Role.STATION)


async def _prepare(url: str, count: int = ORDERS) -> list[str]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        # the station's own row, as a station server holds it once head office's master-data list has come
        await stations.insert_station(conn, StationRecord(STATION, "基准测试站 (benchmark station)"))
        async with UnitOfWork(conn, Actor("bench", "127.0.0.1")) as uow:
            await build_bus(policy(Role.STATION).contexts).handle(OpenShift(STATION, "bench", datetime.now(UTC)), uow)
        numbers = [f"{STATION}-20261204-O{n:05d}" for n in range(1, count + 1)]
        async with conn.cursor() as cur:
            await cur.executemany(
                """INSERT INTO business.orders (order_no, station, kind, fuelling_event_id, amount_fen, created_at)
                   VALUES (%s, %s, 'fuelling', %s, 30000, now())""",
                [(n, STATION, f"bench-{n}") for n in numbers])
    return numbers


def _p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] * 1000


def _token() -> str:
    return TokenIssuer(SECRET).issue(Principal("bench-cashier", None, frozenset(), frozenset({"payment:take"}),
                                               frozenset({STATION})))


async def _pay(http: Connection, order_no: str) -> None:
    """One cash payment of one order, with a new Idempotency-Key; raises unless it is paid."""
    body = {"terminal": "pos-1", "order_nos": [order_no], "tenders": [{"method": "cash", "amount_fen": 30000}]}
    status, answer = await http.request("POST", f"/api/v1/stations/{STATION}/payments",
                                        headers={"Idempotency-Key": str(uuid.uuid4())}, json_body=body)
    if status != 200:
        raise RuntimeError(f"payment refused: {status} {answer[:200]!r}")


async def _pay_all(port: int, orders: list[str]) -> tuple[float, list[float]]:
    """Closed loop: CLIENTS clients, each paying its next order when the last one is answered (the capacity)."""
    queue, latencies = list(reversed(orders)), []

    async def client() -> None:
        async with Connection("127.0.0.1", port, {"Authorization": f"Bearer {_token()}"}) as http:
            while queue:
                order_no = queue.pop()
                started = time.perf_counter()
                await _pay(http, order_no)
                latencies.append(time.perf_counter() - started)
    started = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(CLIENTS)])
    return len(orders) / (time.perf_counter() - started), latencies


async def _pay_at_rate(port: int, orders: list[str], rate: float) -> tuple[float, list[float]]:
    """Open loop: payment i is due at i / ``rate`` s and sent then whatever the earlier answers (as terminals'
    requests come), on one of CLIENTS keep-alive connections (waiting for a free one when all are busy); its
    latency counts from when it was due, so a server that falls behind the rate shows it in every later payment
    (no coordinated omission). The rate achieved and the latencies."""
    free: asyncio.Queue[Connection] = asyncio.Queue()
    async with AsyncExitStack() as stack:
        for _ in range(CLIENTS):
            free.put_nowait(await stack.enter_async_context(
                Connection("127.0.0.1", port, {"Authorization": f"Bearer {_token()}"})))
        latencies: list[float] = []

        async def one(due: float, order_no: str) -> None:
            http = await free.get()
            try:
                await _pay(http, order_no)
            finally:
                free.put_nowait(http)
            latencies.append(time.perf_counter() - due)
        started, sent = time.perf_counter(), []
        for i, order_no in enumerate(orders):          # one task a payment, made when it is due (few alive)
            due = started + i / rate
            await asyncio.sleep(due - time.perf_counter())
            sent.append(asyncio.create_task(one(due, order_no)))
        await asyncio.gather(*sent)
        return len(orders) / (time.perf_counter() - started), latencies


async def _bare_inserts(url: str, count: int) -> tuple[float, list[float]]:
    """``count`` payment rows inserted by CLIENTS connections, one autocommit INSERT each."""
    latencies: list[float] = []
    numbers = list(range(count))

    async def client() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            while numbers:
                n = numbers.pop()
                started = time.perf_counter()
                await conn.execute(
                    """INSERT INTO business.payments (payment_no, station, shift_no, terminal, cashier, method,
                           amount_fen, state, created_at, settled_at)
                       VALUES (%s, %s, 'bench-S', 'pos-1', 'bench', 'cash', 30000, 'succeeded', now(), now())""",
                    (f"bare-{n:06d}", STATION))
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(CLIENTS)])
    return count / (time.perf_counter() - started), latencies


def _processes() -> tuple[dict[int, list[int]], dict[int, float]]:
    """Every process's children and CPU seconds (user + system) so far (Linux /proc; nothing elsewhere)."""
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return children, used


def _cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by process ``root`` and its descendants (Linux /proc; 0 elsewhere)."""
    children, used = _processes()
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += used.get(pid, 0.0)
        todo.extend(children.get(pid, ()))
    return total


async def database_cpu(url: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend connected to ``url``'s database (the servers' pools), by
    process id; none when PostgreSQL runs on another machine. ``database_cpu_s`` counts what they used since."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()")
        pids = [int(pid) for pid, in await cur.fetchall()]
    _, used = _processes()
    return {pid: used[pid] for pid in pids if pid in used}


async def database_cpu_s(url: str, before: dict[int, float]) -> float:
    """CPU seconds the database's backends used since ``before`` (``database_cpu``); a backend opened since counts
    whole."""
    now = await database_cpu(url)
    return sum(used - before.get(pid, 0.0) for pid, used in now.items())


@contextlib.asynccontextmanager
async def serve(url: str, tree: Path | None = None) -> AsyncIterator[tuple[int, int]]:
    """The station server on ``url`` in its own uvicorn process with the options `forecourt api` runs it with,
    from the source ``tree`` (default: this one): its (pid, port) while it runs."""
    port = free_port()
    env = {**os.environ, "BENCH_PAYMENTS_DATABASE_URL": url}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "--factory", "benchmarks.bench_payments:app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(WORKERS),
        "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio", env=env, cwd=tree)
    try:
        await wait_for_port("127.0.0.1", port, within_s=60)
        yield server.pid, port
    finally:
        server.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait(), 10)


async def run() -> list[Figure]:
    async with AsyncExitStack() as stack:
        url = await _database(stack)
        orders = await _prepare(url, ORDERS + AT_RATE)
        orders, offered = orders[:ORDERS], orders[ORDERS:]
        async with serve(url) as (pid, port):
            await _pay_all(port, orders[:100])                       # warm up (connections, caches)
            cpu_before, database_before = _cpu_s(pid), await database_cpu(url)
            rate, latencies = await _pay_all(port, orders[100:])
            server_ms = (_cpu_s(pid) - cpu_before) * 1000 / (len(orders) - 100)
            database_ms = await database_cpu_s(url, database_before) * 1000 / (len(orders) - 100)
            achieved, at_rate = await _pay_at_rate(port, offered, RATE)
        bare_rate, bare_latencies = await _bare_inserts(url, len(orders))
    note = (f"{WORKERS} uvicorn workers, {CLIENTS} clients, {len(orders) - 100} cash payments of one order each "
            f"over HTTP, median {statistics.median(latencies) * 1000:.1f} ms; the load client is lean "
            "(benchmarks/http_load.py: httpx took about 1.2 ms of the shared cores per payment, this one 0.3) so "
            "that the figure is the server's capacity; token without a user row (no revocation lookup)")
    return [Figure("payments per second", rate, "payments/s", bare_rate, "bare INSERT per second", note),
            Figure("pay endpoint p99", _p99(latencies), "ms", _p99(bare_latencies), "bare INSERT p99",
                   f"in the closed loop above: its {CLIENTS} clients queue at the server, so its median is about "
                   f"{CLIENTS} / rate (Little's law) whatever a payment costs"),
            Figure(f"pay endpoint p99 at {RATE:.0f} payments/s offered", _p99(at_rate), "ms", _p99(bare_latencies),
                   "bare INSERT p99",
                   f"open loop: {len(offered)} payments due one every {1000 / RATE:.1f} ms on {CLIENTS} connections, "
                   f"each timed from when it was due; {achieved:.0f} payments/s achieved, median "
                   f"{statistics.median(at_rate) * 1000:.1f} ms"),
            Figure("station server CPU per payment", server_ms, "ms",
                   note="user + system CPU of the uvicorn workers while paying, over the payments: the figure to "
                        "judge a change by on a busy machine (2 cores hold 2,000 ms a second for all of it)"),
            Figure("PostgreSQL CPU per payment", database_ms, "ms",
                   note="user + system CPU of the database backends the server's pool held while paying, over the "
                        "payments (0 when PostgreSQL runs on another machine); server, database and load client "
                        "share the cores, so 500/s needs all three under 4 ms a payment on 2 cores")]
