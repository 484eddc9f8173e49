"""Points as a tender through head office's real lookup: a member with enough points pays (the capture carries
the points spent), one without enough is refused with the balance named, an unknown member is refused, and
with head office unreachable points are not offered."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from business_services.ledger import repository as ledger
from business_services.ledger.model import points_award_entry
from business_services.payments.points import PointsProvider
from business_services.payments.providers import ChargeRequest, ChargeState
from telemetry.contracts.events.payments import Method
from tests.integration.station_members.support import STATION, head_office

pytestmark = pytest.mark.integration


def request(member_no: str | None, fen: int) -> ChargeRequest:
    return ChargeRequest(f"{STATION}-20261205-P00001", STATION, Method.POINTS, fen, "演示站 加油",
                         member_no=member_no)


async def test_points_pay_through_head_offices_lookup(database_url: str) -> None:
    async with head_office(database_url) as office:
        link = office.link()
        status, member = await link.call("POST", "/api/v1/members", {"phone": "13900000077", "source": "pos",
                                                                      "station": STATION},
                                         idempotency_key="points-tender-member")
        assert status == 201, member
        member_no = member["member_no"]
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn, conn.transaction():
            await ledger.post(conn, points_award_entry("points.awarded:test:1", member_no, 1500, datetime.now(UTC),
                                                       "test"))
        provider = PointsProvider(link)
        assert provider.unavailable() is None
        paid = await provider.charge(request(member_no, 1200))             # 100 points a yuan: 1,200 points
        assert (paid.state, paid.member_no, paid.points_spent) == (ChargeState.SUCCEEDED, member_no, 1200)
        short = await provider.charge(request(member_no, 2000))
        assert short.state is ChargeState.FAILED and "积分不足" in short.message and "1500" in short.message
        nobody = await provider.charge(request("M99999999", 100))
        assert nobody.state is ChargeState.FAILED
        anonymous = await provider.charge(request(None, 100))
        assert anonymous.state is ChargeState.FAILED and "会员" in anonymous.message
        link.down = True
        assert provider.unavailable() is not None
        assert (await provider.charge(request(member_no, 100))).state is ChargeState.FAILED
