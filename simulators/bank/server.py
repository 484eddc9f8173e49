"""A bank's enterprise direct link (银企直连) on one HTTP API, modelled on the Chinese banks' direct links: the
enterprise (head office) queries its account's transaction details, and the bank pushes a notification of each
incoming transfer to the enterprise's callback. docs/simulators.md, "Bank".

Signing (both ways): headers ``X-Timestamp`` (unix seconds), ``X-Nonce`` (random), ``X-Signature`` = hex
HMAC-SHA256, with the secret shared at onboarding, of ``"<timestamp>\\n<nonce>\\n<payload>"`` where the payload
is the request body (POST) or the query string as sent (GET); the caller names itself with ``X-Client-Id``. A
timestamp more than 300 s off is refused like a bad signature.

- ``GET /cbe/v1/accounts/{account}/transactions?from=YYYYMMDD&to=YYYYMMDD&page=1&page_size=50``: the account's
  credit transactions booked on those days (China time), oldest first, paged →
  ``{"code": "0000", "msg": "交易成功", "data": {"page", "page_size", "total", "records": [record…]}}``.
  A record: ``{"serial_no", "account_no", "direction": "C", "amount": "1234.56" (yuan), "currency": "CNY",
  "payer_account", "payer_name", "payer_bank", "memo" (附言), "booked_at" (ISO 8601, +08:00)}``.
  Refusals: bad signature or unknown client ``401 {"code": "E0401"}``; an account not the client's ``404 E0404``;
  a range over 31 days, ``to`` before ``from``, or a bad page ``400 E0400``.
- Notification: ``POST <callback>`` ``{"notify_id", "event": "transaction.credit", "record": record}``, signed the
  same way; the enterprise answers 200 ``{"code": "SUCCESS"}``; any other answer is retried (up to 3 sends).

Failure modes (test control under ``/_sim``, no signature): ``POST /_sim/transfers`` ``{"payer_account",
"payer_name", "amount_fen", "memo", "notify": "once" | "twice" (a duplicate) | "never" (lost: only a poll finds
it), "hold": false}`` books a transfer and pushes its notification (``hold``: keep it until ``POST
/_sim/release``, which pushes the held ones newest first: out of order); ``POST /_sim/faults`` ``{"query_fail_next":
n}`` (the next n queries answer 503 ``E0503``), ``{"query_delay_s": s}`` (answers late: a client's timeout);
``GET /_sim/notifications``: every push and the answer it got.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CHINA = timezone(timedelta(hours=8))
MAX_DAYS = 31
MAX_PAGE = 100
SENDS = 3


@dataclass
class BankKeys:
    client_id: str = field(default_factory=lambda: "FC" + secrets.token_hex(6))
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    account_no: str = field(default_factory=lambda: "6222" + "".join(secrets.choice("0123456789") for _ in range(15)))

    def merchant_config(self, base_url: str) -> dict[str, Any]:
        return {"bank_url": base_url, "client_id": self.client_id, "secret": self.secret,
                "account_no": self.account_no}


@dataclass
class Faults:
    query_fail_next: int = 0
    query_delay_s: float = 0.0


def sign(secret: str, timestamp: str, nonce: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}\n{nonce}\n".encode() + payload, hashlib.sha256).hexdigest()


def _verified(secret: str, h: Any, payload: bytes) -> bool:
    timestamp = h.get("X-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    return hmac.compare_digest(sign(secret, timestamp, h.get("X-Nonce", ""), payload), h.get("X-Signature", ""))


def _refuse(status: int, code: str, msg: str) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg}, status_code=status)


def signed_headers(client_id: str, secret: str, payload: bytes, now: float | None = None) -> dict[str, str]:
    """The signing headers of a request or a notification (the rule in the module's docstring)."""
    timestamp, nonce = str(int(time.time() if now is None else now)), secrets.token_hex(8)
    return {"X-Client-Id": client_id, "X-Timestamp": timestamp, "X-Nonce": nonce,
            "X-Signature": sign(secret, timestamp, nonce, payload)}


class BankSim:
    def __init__(self, keys: BankKeys | None = None, callback_url: str = "",
                 push: httpx.AsyncClient | None = None) -> None:
        """``callback_url``: where notifications go; ``push``: the client that sends them (a test's ASGI client)."""
        self.keys = keys or BankKeys()
        self.callback_url = callback_url
        self.faults = Faults()
        self.records: list[dict[str, Any]] = []
        self.held: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self._push = push or httpx.AsyncClient(timeout=5)
        self._serial = 0
        self.app = Starlette(routes=[
            Route("/cbe/v1/accounts/{account}/transactions", self._transactions, methods=["GET"]),
            Route("/_sim/transfers", self._book, methods=["POST"]),
            Route("/_sim/release", self._release, methods=["POST"]),
            Route("/_sim/faults", self._set_faults, methods=["POST"]),
            Route("/_sim/notifications", lambda _: JSONResponse(self.notifications), methods=["GET"]),
        ])

    async def close(self) -> None:
        await self._push.aclose()

    # ---- the bank's API ---------------------------------------------------------------------------------------

    async def _transactions(self, request: Request) -> JSONResponse:
        h = request.headers
        query = urlsplit(str(request.url)).query.encode()
        if h.get("X-Client-Id") != self.keys.client_id or not _verified(self.keys.secret, h, query):
            return _refuse(401, "E0401", "签名验证失败")
        if request.path_params["account"] != self.keys.account_no:
            return _refuse(404, "E0404", "账户不存在或未开通直连")
        if self.faults.query_fail_next > 0:
            self.faults.query_fail_next -= 1
            return _refuse(503, "E0503", "系统繁忙，请稍后重试")
        if self.faults.query_delay_s:
            await asyncio.sleep(self.faults.query_delay_s)
        q = request.query_params
        try:
            first = datetime.strptime(q["from"], "%Y%m%d").replace(tzinfo=CHINA).date()
            last = datetime.strptime(q["to"], "%Y%m%d").replace(tzinfo=CHINA).date()
            page, size = int(q.get("page", "1")), int(q.get("page_size", "50"))
        except (KeyError, ValueError):
            return _refuse(400, "E0400", "参数错误：from/to 须为 YYYYMMDD，page/page_size 为正整数")
        if last < first or (last - first).days >= MAX_DAYS or page < 1 or not 1 <= size <= MAX_PAGE:
            return _refuse(400, "E0400", f"查询区间须在 {MAX_DAYS} 天内，每页 1-{MAX_PAGE} 条")
        found = [r for r in self.records
                 if first <= datetime.fromisoformat(r["booked_at"]).astimezone(CHINA).date() <= last]
        return JSONResponse({"code": "0000", "msg": "交易成功", "data": {
            "page": page, "page_size": size, "total": len(found),
            "records": found[(page - 1) * size: page * size]}})

    async def _notify(self, record: dict[str, Any]) -> None:
        body = json.dumps({"notify_id": secrets.token_hex(12), "event": "transaction.credit", "record": record},
                          ensure_ascii=False).encode()
        for attempt in range(1, SENDS + 1):
            headers = signed_headers(self.keys.client_id, self.keys.secret, body) | {
                "Content-Type": "application/json"}
            try:
                answer = await self._push.post(self.callback_url, content=body, headers=headers)
                status, text = answer.status_code, answer.text
            except httpx.HTTPError as error:
                status, text = 0, repr(error)
            self.notifications.append({"serial_no": record["serial_no"], "attempt": attempt, "status": status,
                                       "answer": text})
            if status == 200:
                return

    # ---- test control ---------------------------------------------------------------------------------------

    async def _book(self, request: Request) -> JSONResponse:
        body = await request.json()
        self._serial += 1
        booked = datetime.fromisoformat(body["booked_at"]) if body.get("booked_at") else datetime.now(UTC)
        record = {"serial_no": f"{booked.astimezone(CHINA):%Y%m%d}{self._serial:010d}",
                  "account_no": self.keys.account_no, "direction": "C",
                  "amount": f"{Decimal(int(body['amount_fen'])) / 100:.2f}", "currency": "CNY",
                  "payer_account": body["payer_account"], "payer_name": body.get("payer_name", ""),
                  "payer_bank": body.get("payer_bank", "中国工商银行"), "memo": body.get("memo", ""),
                  "booked_at": booked.astimezone(CHINA).isoformat()}
        self.records.append(record)
        sends = {"once": 1, "twice": 2, "never": 0}[body.get("notify", "once")]
        for _ in range(sends):
            if body.get("hold"):
                self.held.append(record)
            else:
                await self._notify(record)
        return JSONResponse(record)

    async def _release(self, _: Request) -> JSONResponse:
        held, self.held = self.held, []
        for record in reversed(held):
            await self._notify(record)
        return JSONResponse({"released": len(held)})

    async def _set_faults(self, request: Request) -> JSONResponse:
        for name, value in (await request.json()).items():
            if hasattr(self.faults, name):
                setattr(self.faults, name, value)
        return JSONResponse(asdict(self.faults))
