"""The demo's members and their money, made through head office's API as an operator would (the back office's
calls): a points rule (1 point a 元), a stored-value card type with its recharge offer (充500送50), two members
with a plate each, and an electronic card each, recharged with 500 元 (550 on the card). Made once: a database
that already has the demo card type is left as it is (the demo's data survives a restart)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import niquests

log = logging.getLogger(__name__)

CARD_TYPE = {"code": "demo-sv", "name": "连锁储值卡", "scope": "chain", "named": True, "medium": "electronic",
             "kind": "stored_value", "prefix": "8866", "length": 16, "offline_limit_fen": 20000,
             "offline_daily_fen": 50000}
MEMBERS = (("13800138000", "张三", "京A12345"), ("13900139000", "李四", "京B54321"))
H5_MEMBER = "13900139000"    # opted in to drive-through with 每次确认: the demo's customer H5 login (docs/h5.md)
RECHARGE_FEN = 50000


class DemoSeedFailed(RuntimeError):
    pass


@contextlib.asynccontextmanager
async def logged_in(base_url: str, username: str, password: str) -> AsyncIterator[niquests.AsyncSession]:
    """A session of ``username`` once the API answers."""
    async with niquests.AsyncSession(base_url=base_url, timeout=20) as http:
        for _ in range(300):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    break
            except niquests.exceptions.ConnectionError:
                pass
            await asyncio.sleep(0.2)
        token = await http.post("/api/v1/auth/token", data={"username": username, "password": password})
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield http


async def seed_demo_members(base_url: str, username: str, password: str, station: str) -> None:
    """Seed once the API answers."""
    async with logged_in(base_url, username, password) as http:
        try:
            log.info("demo members: %s", "made" if await _seed(http, station) else "already there")
        except DemoSeedFailed as failed:          # the rest of the demo runs on without them
            log.error("%s", failed)


async def _seed(http: niquests.AsyncSession, station: str) -> bool:
    types = await call(http, "GET", "/api/v1/card-types")
    if any(t["code"] == CARD_TYPE["code"] for t in types.get("items", [])):
        return False
    today = datetime.now(UTC).date()
    await call(http, "POST", "/api/v1/points/rules", {"name": "每元 1 分", "kind": "base", "basis": "amount",
                                                       "rate": "1", "effective_from": today.isoformat()})
    await call(http, "POST", "/api/v1/card-types", CARD_TYPE)
    await call(http, "POST", "/api/v1/card-offers", {"name": "充500送50", "min_paid_fen": 50000, "bonus_fen": 5000,
                                                      "starts_on": today.isoformat(),
                                                      "ends_on": today.replace(year=today.year + 1).isoformat()})
    for n, (phone, name, plate) in enumerate(MEMBERS, start=1):
        member = await call(http, "POST", "/api/v1/members", {"phone": phone, "name": name, "plate": plate,
                                                               "source": "back_office", "station": station})
        [card_no] = (await call(http, "POST", "/api/v1/cards", {"card_type": CARD_TYPE["code"], "station": station,
                                                                 "member_no": member["member_no"]}))["card_nos"]
        await call(http, "POST", f"/api/v1/cards/{card_no}/recharges",
                    {"paid_fen": RECHARGE_FEN, "method": "bank_card", "station": station,
                     "recharge_no": f"{station}-{today:%Y%m%d}-C{n:05d}"})
        if phone == H5_MEMBER:   # 无感支付 with 每次确认: each order waits for a tap on the customer H5 (docs/h5.md)
            await call(http, "PUT", f"/api/v1/members/{member['member_no']}/drive-through",
                       {"method": "stored_value", "card_no": card_no, "confirm": True})
    return True


async def call(http: niquests.AsyncSession, method: str, path: str, body: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else {}
    answer = await http.request(method, path, json=body, headers=headers)
    if answer.status_code is None or answer.status_code >= 300:
        raise DemoSeedFailed(f"demo members: {method} {path} → {answer.status_code} {answer.text}")
    found: dict[str, Any] = answer.json()
    return found
