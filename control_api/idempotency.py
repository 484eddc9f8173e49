"""``Idempotency-Key``: a retried POST gets the first answer instead of doing its work twice.

A route that moves money or equipment takes ``key: IdempotencyKey`` and wraps its work::

    return await once(request, db, who, key, lambda: do_the_work())

The first request with a key stores the key (per caller) with a hash of the method, path and body, runs
the work and stores its answer: a success, or a refusal or time-out the route raised (4xx, 504). A retry
with the same key and request gets that answer again, marked ``Idempotent-Replayed: true``; the same key
with another request is 422; a retry while the first is still running is 409. When the work fails
otherwise (the database or broker away: nothing was confirmed) the key is forgotten, so a retry runs it.
Keys are kept 24 hours: a scheduled job deletes older ones (``business_services/access/repository.py``
``forget_old_idempotency_keys``, run by ``business_services/jobs``).

Work done in two transactions that ask nobody outside the database in between (a cash payment: opened,
then settled) uses ``once_in_two_transactions`` instead, on one connection: the key is claimed in the
first transaction and the answer stored in the second, so the key costs no transaction of its own.
A second request with the key waits on the key's unique index while the first transaction runs, then
sees the key taken: 409 while the second runs, the answer after.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from control_api.database import Database
from control_api.errors import problem
from control_api.security import Principal

IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=128,
                                       description="幂等键：客户端为每个操作生成的唯一值（如 UUID），重试时原样发送 "
                                                   "(a unique value per operation, e.g. a UUID; resend it on retry)")]
REPLAYED = "Idempotent-Replayed"
T = TypeVar("T")


async def _request_hash(request: Request) -> bytes:
    parts = [request.method.encode(), request.url.path.encode(), await request.body()]
    return hashlib.sha256(b"\n".join(parts)).digest()


async def once(request: Request, db: Database, who: Principal, key: str,
               work: Callable[[], Awaitable[BaseModel]], digest: bytes | None = None) -> JSONResponse:
    """``digest``: the request's own fingerprint where its body cannot be read again (a multipart upload, whose
    boundary also differs on every send: ``form_digest``)."""
    digest = digest or await _request_hash(request)
    async with db.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "INSERT INTO business.api_idempotency (caller, key, request_hash) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING 1", (who.username, key, digest))
        first = await cur.fetchone() is not None
        if not first:
            cur = await conn.execute("SELECT request_hash, status, body FROM business.api_idempotency "
                                     "WHERE caller = %s AND key = %s", (who.username, key))
            stored = await cur.fetchone()
    if not first and stored is not None:
        return _replay(key, digest, bytes(stored[0]), stored[1], stored[2])
    try:
        answer = await work()
    except HTTPException as refused:
        if refused.status_code < 500 or refused.status_code == 504:
            await _store(db, who, key, refused.status_code, {"detail": str(refused.detail)})
        else:
            await _forget(db, who, key)
        raise
    except BaseException:
        await _forget(db, who, key)
        raise
    body = answer.model_dump(mode="json")
    await _store(db, who, key, 200, body)
    return JSONResponse(body)


def form_digest(request: Request, *parts: bytes | str) -> bytes:
    """A multipart request's fingerprint for ``once``: the method, the path and its fields' values in a fixed order."""
    fields = [request.method.encode(), request.url.path.encode(), *(p.encode() if isinstance(p, str) else p
                                                                     for p in parts)]
    return hashlib.sha256(b"\n".join(hashlib.sha256(f).digest() for f in fields)).digest()


async def once_in_two_transactions(request: Request, db: Database, who: Principal, key: str,
                                   first: Callable[[psycopg.AsyncConnection], Awaitable[T]],
                                   then: Callable[[psycopg.AsyncConnection, T, list[str]], Awaitable[BaseModel]],
                                   ) -> Response:
    """``once`` for work done in two transactions on one connection, each opened here (the work's units of
    work join them: ``UnitOfWork(conn, actor, joined=True)``): the key is claimed in the first, the answer
    stored in the second. A refusal from ``first`` rolls its work back with the key, and is then stored on
    its own; from ``then``, it is stored under the key the first transaction kept.

    The transactions' ends ride in the key's statements instead of round trips of their own (each costs the
    server a payment's few per cent of CPU): ``BEGIN`` goes with the claim, ``COMMIT; BEGIN`` between the
    two, ``COMMIT`` with the answer. Those are simple-protocol queries with the values bound by psycopg on
    the client (``AsyncClientCursor``), the only way to send two statements at once; the connection is in
    autocommit meanwhile, so that psycopg sends no ``BEGIN`` of its own. ``then`` is also given a list for
    statements to send with the answer (bound already: the outbox statement of its unit of work, given
    ``with_commit``), so that they take no round trip of their own either."""
    digest = await _request_hash(request)
    async with db.connection() as conn:
        await conn.set_autocommit(True)
        try:
            return await _in_two_transactions(conn, db, who, key, digest, first, then)
        finally:
            await _hand_back(conn)


async def _in_two_transactions(conn: psycopg.AsyncConnection, db: Database, who: Principal, key: str, digest: bytes,
                               first: Callable[[psycopg.AsyncConnection], Awaitable[T]],
                               then: Callable[[psycopg.AsyncConnection, T, list[str]], Awaitable[BaseModel]],
                               ) -> Response:
    try:
        stored = await _begin_and_claim(conn, who, key, digest)
        if stored is None:
            done_first = await first(conn)
    except HTTPException as refused:     # rolled back, the key with it: keep the refusal under the key
        await _rolled_back(conn)
        if refused.status_code >= 500 and refused.status_code != 504:   # nothing was refused: a fault
            raise
        stored = await _store_refusal(conn, who, key, digest, refused)
        if stored is None:
            raise
    if stored is not None:
        await conn.commit()   # the key was another request's: nothing was written (a rollback would also drop
        return _replay(key, digest, *stored)            # psycopg's prepared statements)
    try:
        await conn.execute(_COMMIT_AND_BEGIN, prepare=False)
        with_commit: list[str] = []
        body = (await then(conn, done_first, with_commit)).model_dump_json()
        async with psycopg.AsyncClientCursor(conn) as cur:     # no parameters: sent as it is, % and all
            await cur.execute("; ".join([*with_commit, cur.mogrify(_ANSWER_AND_COMMIT, (body, who.username, key))]))
    except HTTPException as refused:
        await _rolled_back(conn)
        if refused.status_code >= 500 and refused.status_code != 504:   # nothing was refused: a fault
            await _forget(db, who, key)
            raise
        async with conn.transaction():
            await _answer(conn, who, key, refused.status_code, {"detail": str(refused.detail)})
        raise
    except BaseException:
        await _rolled_back(conn)         # before the key is forgotten: this transaction may hold its row
        await _forget(db, who, key)
        raise
    return Response(body, media_type="application/json")


_BEGIN_AND_CLAIM = ("BEGIN; INSERT INTO business.api_idempotency (caller, key, request_hash) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING RETURNING 1")
_COMMIT_AND_BEGIN = "COMMIT; BEGIN"
_ANSWER_AND_COMMIT = ("UPDATE business.api_idempotency SET status = 200, body = %s::jsonb "
                      "WHERE caller = %s AND key = %s; COMMIT")


async def _begin_and_claim(conn: psycopg.AsyncConnection, who: Principal, key: str,
                           digest: bytes) -> tuple[bytes, int | None, Any] | None:
    """None when this request holds the key now, in the transaction opened here (until it ends); else what is
    stored under it, after the request that held it has committed (one round trip for BEGIN and the claim)."""
    async with psycopg.AsyncClientCursor(conn) as cur:
        await cur.execute(_BEGIN_AND_CLAIM, (who.username, key, digest))
        cur.nextset()                    # past BEGIN's result to the claim's
        if await cur.fetchone() is not None:
            return None
    return await _stored(conn, who, key)


async def _rolled_back(conn: psycopg.AsyncConnection) -> None:
    """The transaction opened here rolled back, if one is open (on a broken connection there is none left)."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            await conn.rollback()


async def _hand_back(conn: psycopg.AsyncConnection) -> None:
    """The connection as the pool lent it: no transaction open (whatever failed is rolled back), autocommit off.
    One that cannot be (broken) is closed, so that the pool drops it."""
    await _rolled_back(conn)
    try:
        await conn.set_autocommit(False)
    except psycopg.Error:
        await conn.close()


async def _stored(conn: psycopg.AsyncConnection, who: Principal, key: str) -> tuple[bytes, int | None, Any] | None:
    cur = await conn.execute("SELECT request_hash, status, body FROM business.api_idempotency "
                             "WHERE caller = %s AND key = %s", (who.username, key))
    row = await cur.fetchone()
    return None if row is None else (bytes(row[0]), row[1], row[2])


async def _store_refusal(conn: psycopg.AsyncConnection, who: Principal, key: str, digest: bytes,
                         refused: HTTPException) -> tuple[bytes, int | None, Any] | None:
    """Keep the refusal under the key (None); what is stored instead when another request took the key."""
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO business.api_idempotency (caller, key, request_hash, status, body) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (who.username, key, digest, refused.status_code, Jsonb({"detail": str(refused.detail)})))
        if await cur.fetchone() is not None:
            return None
        return await _stored(conn, who, key)


def _replay(key: str, digest: bytes, stored_hash: bytes, status: int | None, body: Any) -> JSONResponse:
    if stored_hash != digest:
        return problem(422, f"幂等键 {key} 已用于另一个请求，请为新操作生成新的键 "
                            "(this Idempotency-Key was used for a different request; send a new key for a new "
                            "operation)", slug="idempotency-key-reused",
                       errors=[{"field": "Idempotency-Key", "message": "已用于另一个请求 (used for another request)"}])
    if status is None:
        return problem(409, "同一幂等键的请求仍在处理中，请稍后重试 (the first request with this key is still "
                            "running; retry shortly)", slug="idempotency-in-progress", headers={"Retry-After": "2"})
    if status >= 400:
        refused = problem(status, str(body.get("detail", "")))
        refused.headers[REPLAYED] = "true"
        return refused
    return JSONResponse(body, status_code=status, headers={REPLAYED: "true"})


async def _store(db: Database, who: Principal, key: str, status: int, body: dict[str, Any]) -> None:
    async with db.connection() as conn, conn.transaction():
        await _answer(conn, who, key, status, body)


async def _answer(conn: psycopg.AsyncConnection, who: Principal, key: str, status: int,
                  body: dict[str, Any]) -> None:
    await conn.execute("UPDATE business.api_idempotency SET status = %s, body = %s WHERE caller = %s AND key = %s",
                       (status, Jsonb(body), who.username, key))


async def _forget(db: Database, who: Principal, key: str) -> None:
    async with db.connection() as conn, conn.transaction():
        await conn.execute("DELETE FROM business.api_idempotency WHERE caller = %s AND key = %s", (who.username, key))

