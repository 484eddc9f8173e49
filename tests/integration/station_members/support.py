"""Head office on a real port holding a member list, and a station server's link to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.member_list import repository as member_list
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.station_members.handlers import HoldMemberList
from business_services.unit_of_work import UnitOfWork
from control_api.app import create_app
from control_api.security import TokenIssuer
from forecourt.roles import Role, policy
from telemetry.contracts.members import (
    BlockedPlate,
    ListChange,
    ListedCard,
    ListedMember,
    ListPage,
    mask_phone,
    phone_digest,
)
from tests.integration.online_payments.support import api_key, serving

STATION, OTHER = "demo-01", "demo-02"
GROUP = "demo-co"
PHONE, CARD, PLATE, QR = "13800138000", "6222000011112222", "京A12345", "qr-token-0001"
MEMBER = "M00000001"


def member(level_name: str = "金卡", **changes: object) -> ListedMember:
    values: dict[str, object] = {
        "member_no": MEMBER, "name_masked": "张*", "phone_masked": mask_phone(PHONE),
        "phone_digest": phone_digest(PHONE, GROUP), "level": "gold", "level_name": level_name, "discount_pct": 2,
        "plates": (PLATE,), "qr_token": QR}
    return ListedMember.model_validate(values | changes)


def card(**changes: object) -> ListedCard:
    values: dict[str, object] = {"card_no": CARD, "kind": "stored_value", "member_no": MEMBER, "status": "active",
                                 "offline_limit_fen": 20000, "offline_daily_fen": 30000, "balance_fen": 100000}
    return ListedCard.model_validate(values | changes)


async def hold(station_url: str, *items: ListedMember | ListedCard | BlockedPlate, first_seq: int = 1) -> None:
    """Hold ``items`` in a station's copy as one page (what a pull does), without head office."""
    changes = []
    for n, item in enumerate(items, start=first_seq):
        kind = {ListedMember: "member", ListedCard: "card", BlockedPlate: "blocked_plate"}[type(item)]
        key = item.member_no if isinstance(item, ListedMember) else \
            item.card_no if isinstance(item, ListedCard) else item.plate
        changes.append(ListChange(seq=n, kind=kind, key=key, item=item, at=datetime.now(UTC)))
    page = ListPage(items=tuple(changes), next_after=first_seq + len(items) - 1, more=False)
    async with await psycopg.AsyncConnection.connect(station_url, autocommit=True) as conn, \
            UnitOfWork(conn, Actor.system("test")) as uow:
        await build_bus(policy(Role.STATION).contexts).handle(HoldMemberList(STATION, page), uow)


async def record(database_url: str, *items: ListedMember | ListedCard | BlockedPlate) -> None:
    """Head office lists ``items`` (as the members and cards contexts do)."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn, conn.transaction():
        for item in items:
            await member_list.record(conn, item)


@dataclass
class HeadOffice:
    url: str
    keys: dict[str, str]

    def link(self, station: str = STATION) -> HeadOfficeLink:
        return HeadOfficeLink(self.url, self.keys[station], timeout_s=10, probe_every_s=0.1)


@contextlib.asynccontextmanager
async def head_office(database_url: str, port: int | None = None) -> AsyncIterator[HeadOffice]:
    app = create_app(database_url, tokens=TokenIssuer("member-list-test-secret-of-32-bytes-or-more"))
    keys = {STATION: await api_key(database_url, STATION), OTHER: await api_key(database_url, OTHER)}
    async with serving(app, port) as url:
        yield HeadOffice(url, keys)
