"""The desk as ``forecourt business --station`` builds it from settings, its poller running on its own: a card
put into the simulator's fuelling-point reader is locked within a poll, and debited once its fuelling arrives."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from forecourt.ic_cards import station_desk
from forecourt.services import station_providers
from forecourt.settings import Settings
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from tests.integration.ic_cards.ic_support import CARD, ISSUER_KEY, card_readers, deliver, fuelling, outbox, rows
from tests.integration.sales.payments_support import STATION, add_orders, cashier, open_shift, station_api

pytestmark = pytest.mark.integration


async def until(check: object, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():   # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_the_configured_desk_polls_locks_and_debits(station_database_url: str, broker: BrokerAddress) -> None:
    assert station_desk(Settings(), station_database_url, STATION) is None      # no readers set: no desk
    await open_shift(station_database_url)
    async with card_readers(["pos-1", "disp-01/1"]) as (sim, link):
        settings = Settings(ic_reader_address=f"127.0.0.1:{link.port}", ic_readers="pos-1,disp-01/1",
                            ic_issuer_key=ISSUER_KEY.hex(), ic_grey_delay_s=300)
        desk = station_desk(settings, station_database_url, STATION)
        assert desk is not None and {(r.pump, r.fuelling_point) for r in desk.readers.values()} == {
            ("pos-1", 0), ("disp-01", 1)}
        chip = sim.issue(CARD, 9000)
        watching = asyncio.create_task(desk.watch(every_s=0.1))
        try:
            sim.insert("disp-01/1", CARD)
            await until(lambda: chip.grey is not None)
            await deliver(station_database_url, broker, fuelling(STATION, 1, 4, 4000), STATION)
            await until(lambda: chip.grey is None)
            assert chip.balance_fen == 5000
            await asyncio.sleep(0.5)                                             # more polls change nothing
            assert chip.balance_fen == 5000
            assert await rows(station_database_url, "SELECT status FROM business.orders") == [("paid",)]
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching


async def test_the_station_api_takes_an_ic_card_at_the_pos(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 6600)
    async with card_readers(["pos-1", "disp-01/1"]) as (sim, link):
        settings = Settings(ic_reader_address=f"127.0.0.1:{link.port}", ic_readers="pos-1,disp-01/1",
                            ic_issuer_key=ISSUER_KEY.hex())
        providers = station_providers(settings, url)
        assert station_providers(Settings(), url).get(Method.IC_CARD) is None           # no readers: not offered
        chip = sim.issue(CARD, 10000)
        sim.insert("pos-1", CARD)
        async with station_api(url, online=[providers.get(Method.IC_CARD)]) as (app, http):   # type: ignore[list-item]
            methods = {m["method"]: m for m in (await http.get(f"/api/v1/stations/{STATION}/payments/methods",
                                                              headers=cashier(app))).json()["items"]}
            assert methods["ic_card"]["available"] and methods["ic_card"]["safe_offline"]
            tender = {"method": "ic_card", "amount_fen": 6600, "reference": "pos-1"}
            answer = await http.post(f"/api/v1/stations/{STATION}/payments",
                                     headers={**cashier(app), "Idempotency-Key": "ic-pos-payment-1"},
                                     json={"terminal": "pos-1", "order_nos": [order_no], "tenders": [tender]})
            assert answer.status_code == 200, answer.text
            assert answer.json()["payments"][0]["state"] == "succeeded"
    assert chip.balance_fen == 3400 and chip.grey is None
    [captured] = await outbox(url, "payment.captured")
    assert captured["card_no"] == CARD and captured["method"] == "ic_card"
