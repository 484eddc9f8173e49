"""The member list from head office to the station server: the feed (own station only), the station's copy
(newest seq kept, tombstones), lookups by phone, card, QR and plate offline, and the pull when the link returns."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from business_services.bootstrap import build_bus
from business_services.member_list import repository as member_list
from business_services.station_members import views
from business_services.station_members.model import LookupBy
from business_services.station_members.sync import MemberListSync
from forecourt.roles import Role, policy
from telemetry.contracts.members import BlockedPlate
from tests.integration.station_members.support import (
    CARD,
    GROUP,
    MEMBER,
    OTHER,
    PHONE,
    PLATE,
    QR,
    STATION,
    card,
    head_office,
    hold,
    member,
    record,
)

pytestmark = pytest.mark.integration


async def _stations(conn: psycopg.AsyncConnection) -> list[str]:
    return [STATION]


async def test_the_feed_answers_a_station_its_own_list_only(database_url: str) -> None:
    await record(database_url, member(), card(), card(card_no="6222000099998888", stations=(OTHER,)),
                 BlockedPlate(plate="京B99999", reason="逃单"))
    async with head_office(database_url) as office, httpx.AsyncClient(base_url=office.url) as http:
        own = {"X-API-Key": office.keys[STATION]}
        answer = await http.get(f"/api/v1/stations/{STATION}/member-list?after=0", headers=own)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert [c["kind"] for c in page["items"]] == ["member", "card", "card", "blocked_plate"]
        assert page["items"][2]["item"] is None          # a card only another station may take: unlisted here
        assert page["next_after"] == page["items"][-1]["seq"] and page["more"] is False
        small = (await http.get(f"/api/v1/stations/{STATION}/member-list?after=0&limit=2", headers=own)).json()
        assert len(small["items"]) == 2 and small["more"] is True
        assert (await http.get(f"/api/v1/stations/{OTHER}/member-list", headers=own)).status_code == 403
        assert (await http.get(f"/api/v1/stations/{STATION}/member-list")).status_code == 401
        bad = await http.get(f"/api/v1/stations/{STATION}/member-list?after=-1", headers=own)
        assert bad.status_code == 422
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT held_seq FROM business.member_list_stations WHERE station = %s", (STATION,))
        assert await cur.fetchone() == (0,)              # asked from 0: holds nothing yet


async def test_the_station_pulls_its_copy_and_finds_members_offline(database_url: str,
                                                                    station_database_url: str) -> None:
    await record(database_url, member(), card(), BlockedPlate(plate="京B99999", reason="逃单"))
    async with head_office(database_url) as office:
        link = office.link()
        sync = MemberListSync(station_database_url, link, build_bus(policy(Role.STATION).contexts), _stations)
        assert await sync.pull_all() == 3
        assert await sync.pull_all() == 0                                 # nothing new: nothing changes
        await record(database_url, member(level_name="铂金卡"))
        async with await psycopg.AsyncConnection.connect(database_url) as conn, conn.transaction():
            await member_list.unlist(conn, "blocked_plate", "京B99999")
        assert await sync.pull_all() == 2
        await link.close()
    async with await psycopg.AsyncConnection.connect(station_database_url) as conn:
        for by, key in ((LookupBy.PHONE, PHONE), (LookupBy.CARD_NO, CARD), (LookupBy.QR, QR), (LookupBy.PLATE, PLATE)):
            found = await views.lookup(conn, by, key, GROUP)
            assert found is not None and found.member_no == MEMBER, by
            assert found.offline and found.level_name == "铂金卡" and found.phone == "138****8000"
            assert [(c.card_no, c.balance_fen) for c in found.cards] == [(CARD, 100000)]
        assert await views.lookup(conn, LookupBy.PHONE, "13900000000", GROUP) is None
        assert await views.lookup(conn, LookupBy.PHONE, PHONE, "another-company") is None   # keyed by the group
        assert await views.lookup(conn, LookupBy.PLATE, "京B99999", GROUP) is None            # unblocked since
        held = await views.held(conn, STATION)
        assert held["members"] == 1 and held["held_seq"] >= 5


async def test_an_older_or_repeated_page_never_overwrites_a_newer_change(station_database_url: str) -> None:
    await hold(station_database_url, member(level_name="铂金卡"), card(balance_fen=5000), first_seq=10)
    await hold(station_database_url, member(level_name="银卡"), card(balance_fen=90000), first_seq=3)
    await hold(station_database_url, BlockedPlate(plate="京B99999", reason="逃单"), first_seq=20)
    async with await psycopg.AsyncConnection.connect(station_database_url) as conn:
        found = await views.lookup(conn, LookupBy.CARD_NO, CARD, GROUP)
        assert found is not None and found.level_name == "铂金卡" and found.cards[0].balance_fen == 5000
        blocked = await views.lookup(conn, LookupBy.PLATE, "京B99999", GROUP)
        assert blocked is not None and blocked.blocked_plate == "逃单" and blocked.member_no == ""
        assert (await views.held(conn, STATION))["held_seq"] == 20          # never moved back by the older page


async def test_the_loop_pulls_again_as_soon_as_the_link_comes_back(database_url: str,
                                                                  station_database_url: str) -> None:
    await record(database_url, member())
    async with head_office(database_url) as office:
        link = office.link()
        sync = MemberListSync(station_database_url, link, build_bus(policy(Role.STATION).contexts), _stations,
                              every_s=3600, watch_s=0.05)
        loop = asyncio.create_task(sync.run())
        try:
            async with asyncio.timeout(10):
                while sync.pulls < 1:
                    await asyncio.sleep(0.02)
            await record(database_url, member(level_name="铂金卡"))
            link.down = True                              # head office was away …
            await asyncio.sleep(0.2)
            assert sync.pulls == 1                        # (the next pull is an hour away)
            link.down = False                             # … and answers again: pulled at once
            async with asyncio.timeout(10):
                while sync.pulls < 2:
                    await asyncio.sleep(0.02)
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            await link.close()
    async with await psycopg.AsyncConnection.connect(station_database_url) as conn:
        found = await views.lookup(conn, LookupBy.PHONE, PHONE, GROUP)
        assert found is not None and found.level_name == "铂金卡"
