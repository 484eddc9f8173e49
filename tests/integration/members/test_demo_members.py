"""The demo's members, cards and fleet, made through head office's real API once: two members with their plates, an
electronic card each holding 500 元 paid + 50 元 of the 充500送50 offer, a points rule; an enterprise on credit
approved by a second person, its vehicle card and its portal user; a second run (the demo restarted on the same
database) makes nothing more."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg

from business_services.access.demo import seed_demo_company
from forecourt.demo import seed_demo_business
from forecourt.demo_fleets import PLATE
from forecourt.demo_members import CARD_TYPE, MEMBERS
from tests.support.api_client import served_api


async def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return list(await (await conn.execute(query)).fetchall())


async def test_the_demo_members_and_fleet_are_made_once(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        logins = await seed_demo_company(conn)
    passwords = {d.username: d.password for d in logins}
    async with served_api(database_url) as (_app, http):
        base = str(http.base_url).rstrip("/")
        for _ in range(2):                   # the demo started twice on one database
            seeding = asyncio.create_task(seed_demo_business(base, passwords, "demo-01"))
            async with asyncio.timeout(60):
                while not await _rows(database_url, "SELECT 1 FROM business.fleet_portal_users"):
                    assert not seeding.done(), seeding.exception()
                    await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)
            assert not seeding.done(), "the seed idles until the demo stops"
            seeding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await seeding
    members = await _rows(database_url, "SELECT phone, name FROM business.members ORDER BY phone")
    assert members == [(phone, name) for phone, name, _ in MEMBERS]
    plates = await _rows(database_url, "SELECT plate FROM business.vehicles WHERE member_no IS NOT NULL ORDER BY plate")
    assert plates == sorted((plate,) for _, _, plate in MEMBERS)
    balances = await _rows(database_url, "SELECT balance FROM business.ledger_balances WHERE code LIKE 'card:%'")
    assert sorted(balances) == [(55000,)] * len(MEMBERS)          # 500 paid + 50 of the offer, once
    assert await _rows(database_url, "SELECT code FROM business.card_types") == [(CARD_TYPE["code"],)]
    assert len(await _rows(database_url, "SELECT 1 FROM business.points_rules")) == 1
    fleet = await _rows(database_url, "SELECT e.review, e.settlement, c.plate, c.daily_fen "
                                      "FROM business.fleet_enterprises e JOIN business.fleet_cards c "
                                      "ON c.enterprise = e.code")
    assert fleet == [("approved", "credit", PLATE, 30000)]
