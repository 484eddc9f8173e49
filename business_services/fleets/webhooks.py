"""Signed webhooks of an enterprise's fleet sales (docs/fleet-open-api.md "Webhooks").

Each fleet sale head office records (``business.fleet_payments``, numbered by ``seq`` in the order recorded) is
the event ``fuelling.completed`` of its enterprise. A subscription remembers the last ``seq`` its receiver
acknowledged (``delivered_seq``); the job ``deliver_fleet_webhooks`` sends each due subscription the sales after
it, in order, and moves it on only when the receiver answers 2xx. A receiver that fails (no answer, or any
other status) is retried after a back-off that doubles up to an hour; everything since waits for it, so it gets
every event, in order, once it is back. At least once: a delivery whose answer is lost is sent again with the
same event id (``X-Forecourt-Delivery``), which the receiver dedupes on.

Signature: ``X-Forecourt-Signature: sha256=<hex HMAC-SHA256(secret, "<X-Forecourt-Timestamp>.<body>")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from business_services import partner_urls
from business_services.audit.model import AuditEntry
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.fuelling import FUELLING_COMPLETED

log = logging.getLogger(__name__)
EVENT = FUELLING_COMPLETED   # what partners subscribe to: a fleet sale of their vehicle, recorded
BATCH = 50                 # events a subscription is sent in one run
TIMEOUT_S = 5.0
MAX_BACKOFF = timedelta(hours=1)
KEEP = timedelta(days=30)   # how long the page shows an attempt
TASK = "deliver_fleet_webhooks"
CRON = "* * * * *"
#: sends one delivery: (url, headers, body) -> the receiver's status; raises httpx.HTTPError for no answer, or
#: partner_urls.AddressRefused for a URL that leads to one of our own networks (docs/fleet-open-api.md)
Send = Callable[[str, dict[str, str], bytes], Awaitable[int]]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Forecourt-Signature`` of a delivery."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def backoff(failures: int) -> timedelta:
    """How long after its ``failures``-th failure in a row a subscription is tried again: 30 s, doubling, at
    most an hour."""
    return min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** min(failures - 1, 10)))


def event_id(station: str, payment_no: str) -> str:
    """Stable across retries: the receiver's dedupe key."""
    return f"fuelling.completed:{station}:{payment_no}"


def event(row: dict[str, Any]) -> dict[str, Any]:
    """The body of one ``fuelling.completed`` delivery."""
    return {"id": event_id(row["station"], row["payment_no"]), "type": EVENT, "seq": row["seq"],
            "enterprise": row["enterprise"],
            "data": {"station": row["station"], "payment_no": row["payment_no"], "order_nos": list(row["order_nos"]),
                     "card_no": row["card_no"], "plate": row["plate"], "grade": row["grade"],
                     "litres_ml": row["litres_ml"], "amount_fen": row["amount_fen"], "pays_from": row["pays_from"],
                     "offline": row["offline"], "paid_at": row["paid_at"].isoformat()}}


# ---- subscriptions (fleet:write) ---------------------------------------------------------------------------


async def subscribe(uow: UnitOfWork, enterprise: str, url: str) -> dict[str, Any]:
    """A new subscription; its secret is in this answer only. It starts with the sales recorded from now on."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = await (await uow.conn.execute(
        """INSERT INTO business.fleet_webhooks (enterprise, url, secret, delivered_seq, created_by)
           VALUES (%s, %s, %s, (SELECT coalesce(max(seq), 0) FROM business.fleet_payments), %s)
           RETURNING id""", (enterprise, url, secret, uow.actor.name))).fetchone()
    webhook_id = int(row[0]) if row else 0
    await uow.audit(AuditEntry("fleet.webhook.create", f"webhook:{webhook_id}",
                               after={"enterprise": enterprise, "url": url, "events": [EVENT]}))
    return {"id": webhook_id, "url": url, "events": [EVENT], "secret": secret}


async def unsubscribe(uow: UnitOfWork, enterprise: str, webhook_id: int) -> None:
    row = await (await uow.conn.execute(
        "UPDATE business.fleet_webhooks SET active = false WHERE id = %s AND enterprise = %s AND active RETURNING url",
        (webhook_id, enterprise))).fetchone()
    if row is None:
        raise LookupError(f"企业 {enterprise} 没有启用中的订阅 {webhook_id} (no active webhook {webhook_id} of it)")
    await uow.audit(AuditEntry("fleet.webhook.delete", f"webhook:{webhook_id}", before={"url": row[0]}))


async def subscriptions(conn: psycopg.AsyncConnection, enterprise: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT w.id, w.url, w.events, w.active, w.delivered_seq, w.failures, w.retry_at,
                                    w.last_error, w.created_by, w.created_at,
                                    (SELECT count(*) FROM business.fleet_payments p
                                     WHERE p.enterprise = w.enterprise AND p.seq > w.delivered_seq) AS pending
                             FROM business.fleet_webhooks w WHERE w.enterprise = %s ORDER BY w.id DESC""",
                          (enterprise,))
        return await cur.fetchall()


async def deliveries(conn: psycopg.AsyncConnection, enterprise: str, webhook_id: int,
                     limit: int = 50) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT d.id, d.event_id, d.seq, d.status, d.error, d.attempted_at
                             FROM business.fleet_webhook_deliveries d JOIN business.fleet_webhooks w
                               ON w.id = d.webhook_id
                             WHERE w.id = %s AND w.enterprise = %s ORDER BY d.id DESC LIMIT %s""",
                          (webhook_id, enterprise, limit))
        return await cur.fetchall()


# ---- delivery (the job) ------------------------------------------------------------------------------------


async def _post(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: bytes) -> int:
    """POST to the address the URL's name resolved to, once every address it has was checked (partner_urls)."""
    target = await partner_urls.pinned(url)
    return (await client.post(target.url, content=body, headers=headers | target.headers,
                              extensions=target.extensions)).status_code


async def deliver_due(conn: psycopg.AsyncConnection, now: datetime, send: Send | None = None) -> int:
    """One run: every active subscription due now gets the sales after its ``delivered_seq`` (``BATCH`` at most),
    in order, until its receiver fails. Each subscription is worked under its row lock (SKIP LOCKED: two runs
    never send one subscription's events at once), in a transaction of its own (a savepoint when ``conn`` is in
    one already). The events delivered."""
    delivered = 0
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        post = send or (lambda url, headers, body: _post(client, url, headers, body))
        while True:
            async with conn.transaction():
                async with conn.cursor(row_factory=dict_row) as cur:
                    await cur.execute("""SELECT id, enterprise, url, secret, delivered_seq, failures
                                         FROM business.fleet_webhooks WHERE active AND retry_at <= %s
                                           AND EXISTS (SELECT 1 FROM business.fleet_payments p
                                                       WHERE p.enterprise = fleet_webhooks.enterprise
                                                         AND p.seq > fleet_webhooks.delivered_seq)
                                         ORDER BY retry_at, id LIMIT 1 FOR UPDATE SKIP LOCKED""", (now,))
                    hook = await cur.fetchone()
                if hook is None:
                    return delivered
                delivered += await _deliver(conn, hook, now, post)   # under the row's lock


async def _deliver(conn: psycopg.AsyncConnection, hook: dict[str, Any], now: datetime, post: Send) -> int:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT seq, station, payment_no, enterprise, order_nos, card_no, plate, grade, litres_ml,
                                    amount_fen, pays_from, offline, paid_at
                             FROM business.fleet_payments WHERE enterprise = %s AND seq > %s
                             ORDER BY seq LIMIT %s""", (hook["enterprise"], hook["delivered_seq"], BATCH))
        rows = await cur.fetchall()
    sent = 0
    for row in rows:
        body = json.dumps(event(row), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))   # the clock at sending: receivers refuse old timestamps (replays)
        headers = {"Content-Type": "application/json", "X-Forecourt-Event": EVENT,
                   "X-Forecourt-Delivery": event_id(row["station"], row["payment_no"]),
                   "X-Forecourt-Timestamp": timestamp, "X-Forecourt-Signature": sign(hook["secret"], timestamp, body)}
        status: int | None = None
        error = ""
        try:
            status = await post(hook["url"], headers, body)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        except partner_urls.AddressRefused as refused:
            error = str(refused)[:300]
        if status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        await conn.execute("INSERT INTO business.fleet_webhook_deliveries (webhook_id, event_id, seq, status, error, "
                           "attempted_at) VALUES (%s, %s, %s, %s, %s, %s)",
                           (hook["id"], headers["X-Forecourt-Delivery"], row["seq"], status, error, now))
        if error:
            failures = hook["failures"] + 1
            await conn.execute("UPDATE business.fleet_webhooks SET failures = %s, retry_at = %s, last_error = %s "
                               "WHERE id = %s", (failures, now + backoff(failures), error, hook["id"]))
            log.warning("webhook %s: %s failed (%s); retry in %s", hook["id"], row["seq"], error, backoff(failures))
            return sent
        await conn.execute("UPDATE business.fleet_webhooks SET delivered_seq = %s, failures = 0, retry_at = %s, "
                           "last_error = '' WHERE id = %s", (row["seq"], now, hook["id"]))
        sent += 1
    return sent


async def run(conn: psycopg.AsyncConnection[Any]) -> int:
    """The job (business_services/jobs): deliver what is due now, and forget attempts older than ``KEEP``."""
    now = datetime.now(UTC)
    await conn.execute("DELETE FROM business.fleet_webhook_deliveries WHERE attempted_at < %s", (now - KEEP,))
    return await deliver_due(conn, now)
