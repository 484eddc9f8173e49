"""The API's PostgreSQL pool, tuned so that an outage is answered at once and a recovery is seen at once.

A request waits at most ``wait_s`` for a connection, and only ``wait_when_down_s`` while the last
attempt found the database away, so reads answer 503 (with ``Retry-After``) instead of queueing for
the pool's default 30 s (a pool kept busy by load for ``wait_s`` is answered the same way: 503 sheds
the load until a connection comes free again). A connection that sat idle in the pool for more than
``check_idle_s`` is checked before it is handed out (a server restart leaves broken ones behind); one
that came back from a request less than that ago is handed out as it is: it worked a moment ago, and
checking it would cost every request a round trip to the server (if it broke meanwhile, its request is
answered 503 and the broken connection is dropped). A reconnect attempt gives up after ``reconnect_s``
instead of backing off for minutes, so the next request starts a fresh one: the API is healthy again
about a second after the database is.
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator

import psycopg
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2


class DatabaseUnavailable(Exception):
    """The database could not be reached or dropped the connection; the request may be retried."""


class Database:
    def __init__(self, url: str, *, max_size: int = 10, wait_s: float = 2.0, wait_when_down_s: float = 0.25,
                 reconnect_s: float = 1.0, connect_timeout_s: int = 2, check_idle_s: float = 1.0) -> None:
        self.wait_s = wait_s
        self.wait_when_down_s = wait_when_down_s
        self.check_idle_s = check_idle_s
        self.available = True
        self._returned: weakref.WeakKeyDictionary[psycopg.AsyncConnection, float] = weakref.WeakKeyDictionary()
        self.pool = AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False, timeout=wait_s,
                                        reconnect_timeout=reconnect_s, check=self._check, reset=self._came_back,
                                        kwargs={"connect_timeout": connect_timeout_s}, name="control-api")

    async def _came_back(self, conn: psycopg.AsyncConnection) -> None:
        self._returned[conn] = time.monotonic()

    async def _check(self, conn: psycopg.AsyncConnection) -> None:
        """Ask the server only when the connection sat idle for more than ``check_idle_s``."""
        returned = self._returned.get(conn)
        if returned is None or time.monotonic() - returned > self.check_idle_s:
            await AsyncConnectionPool.check_connection(conn)

    async def open(self) -> None:
        """Open the pool without waiting for the database: the API starts (and says 503) while it is away."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection; DatabaseUnavailable when none comes in time or the server goes away meanwhile."""
        wait = self.wait_s if self.available else self.wait_when_down_s
        try:
            async with self.pool.connection(timeout=wait) as conn:
                if not self.available:
                    log.info("database available again")
                    self.available = True
                yield conn
        except psycopg.OperationalError as exc:  # PoolTimeout is one too
            if self.available:
                log.warning("database unavailable, answering 503 until it is back: %s", exc)
            self.available = False
            raise DatabaseUnavailable(str(exc)) from exc

    @contextlib.asynccontextmanager
    async def autocommit(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection in autocommit, for a service that opens its own short transactions (never one held
        across a call to head office, a provider or a pump); handed back to the pool in transaction mode."""
        async with self.connection() as conn:
            await conn.commit()
            await conn.set_autocommit(True)
            try:
                yield conn
            finally:
                await conn.set_autocommit(False)
