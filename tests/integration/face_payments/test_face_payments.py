"""Face payment at the terminal, with both servers real (head office's gallery and cards on a port, the station
server on another, each on its own PostgreSQL database): a live face of a member who opted in pays the order from
their stored-value card once, however often the same request is sent; a photo of a photo, a stranger, two people,
a member who has not opted in and head office away are each refused clearly with nothing charged."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments.registry import member_providers
from forecourt.local import free_port
from tests.integration.cards import support as cards
from tests.integration.face_payments.support import BALANCE_FEN, LIVENESS, SAME_PERSON, STRANGER, head_office, photo
from tests.integration.sales.payments_support import STATION, add_orders, cashier, open_shift, station_api

pytestmark = pytest.mark.integration

URL = f"/api/v1/stations/{STATION}/face-payments"


async def pay(http: httpx.AsyncClient, app: FastAPI, image: bytes, *order_nos: str,
              key: str | None = None) -> httpx.Response:
    return await http.post(URL, data={"order_nos": list(order_nos), "terminal": "pos-1"},
                           files={"image": ("frame.jpg", image, "image/jpeg")},
                           headers=cashier(app) | {"Idempotency-Key": key or str(uuid.uuid4())})


def side_by_side(*names: str) -> bytes:
    """Two people in one frame (each photo scaled to the same height)."""
    images = [cv2.imdecode(np.frombuffer(photo(n), np.uint8), cv2.IMREAD_COLOR) for n in names]
    height = min(i.shape[0] for i in images)
    scaled = [cv2.resize(i, (round(i.shape[1] * height / i.shape[0]), height)) for i in images]
    return bytes(cv2.imencode(".jpg", np.hstack(scaled))[1].tobytes())


async def station_rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return await cards.rows(url, sql, *args)


async def test_a_live_member_pays_once_from_the_card_and_the_same_key_changes_nothing(
        database_url: str, station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    (order_no,) = await add_orders(url, 15000)
    async with head_office(database_url, url) as office, \
            station_api(url, member_providers(office.link(), url)) as (app, http):
        key = str(uuid.uuid4())
        first = await pay(http, app, photo(SAME_PERSON), order_no, key=key)
        assert first.status_code == 200, first.text
        answer = first.json()
        assert answer["paid"] and answer["refusal"] is None, answer
        assert answer["member_no"] == office.member_no and answer["member_name"] == "张*"
        assert answer["card_masked"] != office.card_no and answer["similarity"] >= 0.5
        [payment] = answer["payments"]
        assert (payment["method"], payment["amount_fen"], payment["state"]) == ("stored_value", 15000, "succeeded")

        again = await pay(http, app, photo(SAME_PERSON), order_no, key=key)
        assert again.json() == answer and again.headers.get("Idempotent-Replayed") == "true"
        other = await pay(http, app, photo(SAME_PERSON), order_no)          # a new attempt: nothing is owed
        assert other.status_code == 200 and other.json()["refusal"] == "nothing_owed", other.text

    assert await cards.balance(database_url, office.card_no) == BALANCE_FEN - 15000      # debited once
    assert await station_rows(url, "SELECT method, amount_fen, state FROM business.payments") == \
        [("stored_value", 15000, "succeeded")]
    assert await station_rows(url, "SELECT member_no, paid_fen FROM business.orders WHERE order_no = %s",
                              order_no) == [(office.member_no, 15000)]
    audited = await station_rows(url, "SELECT after->>'outcome', after->>'member_no' FROM business.audit_log "
                                      "WHERE action = 'face.pay' ORDER BY seq")
    assert audited == [("paid", office.member_no), ("nothing_owed", office.member_no)]
    recorded = await cards.rows(database_url, "SELECT station, target FROM business.audit_log "
                                              "WHERE action = 'face.identify' ORDER BY seq")
    assert recorded[0] == (STATION, f"person:{office.member_no}")


async def test_a_spoof_a_stranger_and_two_people_are_refused_and_nothing_is_charged(
        database_url: str, station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    (order_no,) = await add_orders(url, 15000)
    async with head_office(database_url, url, face=(LIVENESS / "live_real__00.jpg").read_bytes()) as office, \
            station_api(url, member_providers(office.link(), url)) as (app, http):
        cases = [((LIVENESS / "live_fake__00.jpg").read_bytes(), "spoof", "活体检测未通过"),
                 (photo(STRANGER), "no_match", "未识别到会员，请使用其他支付方式"),
                 (side_by_side(SAME_PERSON, STRANGER), "several_faces", "请一人刷脸")]
        for image, code, message in cases:
            answer = await pay(http, app, image, order_no)
            assert answer.status_code == 200, answer.text
            refused = answer.json()
            assert (refused["paid"], refused["refusal"], refused["retry"]) == (False, code, True), refused
            assert refused["message"].startswith(message) and refused["payments"] == []
    assert await cards.balance(database_url, office.card_no) == BALANCE_FEN
    assert await station_rows(url, "SELECT count(*) FROM business.payments") == [(0,)]
    assert await station_rows(url, "SELECT member_no FROM business.orders") == [(None,)]


async def test_a_member_who_has_not_opted_in_and_a_key_without_face_identify_are_refused(
        database_url: str, station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    (order_no,) = await add_orders(url, 15000)
    async with head_office(database_url, url, opted_in=False) as office:
        async with station_api(url, member_providers(office.link(), url)) as (app, http):
            refused = (await pay(http, app, photo(SAME_PERSON), order_no)).json()
            assert (refused["refusal"], refused["retry"], refused["member_no"]) == ("not_opted_in", False, None)
            assert "免密支付" in refused["message"]
        unknown_key = HeadOfficeLink(office.url, "fc_not-a-key-head-office-issued", timeout_s=10)
        async with station_api(url, member_providers(unknown_key, url)) as (app, http):
            refused = (await pay(http, app, photo(SAME_PERSON), order_no)).json()
            assert (refused["refusal"], refused["retry"]) == ("not_permitted", False)
            assert "face:identify" in refused["message"]
    assert await cards.balance(database_url, office.card_no) == BALANCE_FEN
    assert await station_rows(url, "SELECT count(*) FROM business.payments") == [(0,)]


async def test_head_office_away_is_refused_clearly_and_the_route_guards_its_input(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    (order_no,) = await add_orders(url, 15000)
    away = HeadOfficeLink(f"http://127.0.0.1:{free_port()}", "no-key", timeout_s=1, probe_every_s=3600)
    async with station_api(url, member_providers(away, url)) as (app, http):
        refused = (await pay(http, app, photo(SAME_PERSON), order_no)).json()
        assert (refused["refusal"], refused["retry"]) == ("head_office_down", False)
        assert "人脸库在总部" in refused["message"]
        assert away.down                      # known down now: the next attempt is refused without asking
        assert (await pay(http, app, photo(SAME_PERSON), order_no)).json()["refusal"] == "head_office_down"

        no_key = await http.post(URL, data={"order_nos": [order_no], "terminal": "pos-1"},
                                 files={"image": ("f.jpg", photo(SAME_PERSON), "image/jpeg")}, headers=cashier(app))
        assert no_key.status_code == 422
        bad = await pay(http, app, photo(SAME_PERSON), "../../etc")
        assert bad.status_code == 422 and "订单" in bad.json()["detail"]
        empty = await pay(http, app, b"", order_no)
        assert empty.status_code == 422
        reader = await http.post(URL, data={"order_nos": [order_no], "terminal": "pos-1"},
                                 files={"image": ("f.jpg", photo(SAME_PERSON), "image/jpeg")},
                                 headers=cards.station_key(app) | {"Idempotency-Key": str(uuid.uuid4())})
        assert reader.status_code == 403
    assert await station_rows(url, "SELECT count(*) FROM business.payments") == [(0,)]


async def test_three_attempts_at_once_for_one_order_charge_the_card_once(database_url: str,
                                                                       station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    (order_no,) = await add_orders(url, 15000)
    async with head_office(database_url, url) as office, \
            station_api(url, member_providers(office.link(), url)) as (app, http):
        answers = await asyncio.gather(*(pay(http, app, photo(SAME_PERSON), order_no) for _ in range(3)))
    paid = [a for a in answers if a.status_code == 200 and a.json()["paid"]]
    assert len(paid) == 1, [a.text for a in answers]
    for other in (a for a in answers if a not in paid):       # refused: already paid, or held by the payment
        assert other.status_code in (200, 409, 422) and not (other.status_code == 200 and other.json()["paid"])
    assert await cards.balance(database_url, office.card_no) == BALANCE_FEN - 15000
    assert await station_rows(url, "SELECT count(*) FROM business.payments WHERE state = 'succeeded'") == [(1,)]
