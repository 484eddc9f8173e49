"""Head office on a real port with a member who opted in to paying without the cashier: a stored-value card with
money on it (head office's cards context), their face enrolled from a labelled photo (the gallery), and the
station's copy of the member list holding them; the station server's link to it (the station's own API key)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments.registry import Providers, member_providers
from control_api.app import create_app
from control_api.security import TokenIssuer
from tests.integration.cards import support as cards
from tests.integration.online_payments.support import api_key, serving
from tests.integration.station_members.support import STATION, card, hold, member
from tests.support.auth import bearer
from vision.models import DEFAULT_MODEL_DIR

DATA = DEFAULT_MODEL_DIR.parent / "data" / "vision"
FACES, LIVENESS = DATA / "faces", DATA / "liveness"
ENROLLED, SAME_PERSON, STRANGER = "fr_obama__00.jpg", "fr_obama__02.jpg", "fr_biden__00.jpg"
BALANCE_FEN = 50000


@dataclass
class Office:
    url: str
    app: FastAPI
    station_key: str
    member_no: str
    card_no: str

    def link(self) -> HeadOfficeLink:
        return HeadOfficeLink(self.url, self.station_key, timeout_s=10, probe_every_s=0.2)

    def providers(self, station_url: str) -> Providers:
        return Providers(member_providers(self.link(), station_url))


def photo(path: Path | str) -> bytes:
    return (FACES / path if isinstance(path, str) else path).read_bytes()


async def enrol(http: httpx.AsyncClient, app: FastAPI, member_no: str, image: bytes) -> None:
    consent = {"person": member_no, "consent_by": "张三", "consent_at": "2026-12-05T08:00:00+08:00",
               "consent_method": "counter", "consent_text_version": "face-2026.1"}
    answer = await http.post("/api/v1/faces/enrolments", data=consent,
                             files={"image": ("face.jpg", image, "image/jpeg")},
                             headers=bearer(app, "face:enrol") | {"Idempotency-Key": f"enrol-{member_no}"})
    assert answer.status_code == 201, answer.text


async def prepare(url: str, app: FastAPI, database_url: str, station_url: str, *, opted_in: bool = True,
                  face: bytes | None = None) -> Office:
    """Head office at ``url`` (``app`` serving ``database_url``) gets its member: card charged ``BALANCE_FEN``, face
    ``face`` (or ``ENROLLED``) enrolled, opted in to 无感支付 with that card unless ``opted_in`` is False; the
    station's list holds them."""
    key = await api_key(database_url, STATION)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        clerk = cards.clerk(app)
        member_no = await cards.member(http, clerk, 1)
        await cards.card_type(http, clerk)
        (card_no,) = await cards.issue(http, clerk, member_no=member_no)
        assert (await cards.recharge(http, clerk, card_no, BALANCE_FEN, "R-face-0001")).status_code == 200
        if opted_in:
            chosen = await http.put(f"/api/v1/members/{member_no}/drive-through",
                                    json={"method": "stored_value", "card_no": card_no}, headers=clerk)
            assert chosen.status_code == 200, chosen.text
        await enrol(http, app, member_no, face or photo(ENROLLED))
    await hold(station_url, member(member_no=member_no, plates=(), qr_token=None,
                                   drive_through="stored_value" if opted_in else "off",
                                   drive_through_card_no=card_no if opted_in else None),
               card(card_no=card_no, member_no=member_no, balance_fen=BALANCE_FEN))
    return Office(url, app, key, member_no, card_no)


def office_app(database_url: str) -> FastAPI:
    return create_app(database_url, tokens=TokenIssuer("face-payments-test-secret-of-32-bytes-or-more"))


@contextlib.asynccontextmanager
async def head_office(database_url: str, station_url: str, *, opted_in: bool = True,
                      face: bytes | None = None) -> AsyncIterator[Office]:
    """Head office serving on a port, prepared (``prepare``)."""
    app = office_app(database_url)
    async with serving(app) as url:
        yield await prepare(url, app, database_url, station_url, opted_in=opted_in, face=face)
