"""The grey lock at one station, through the card reader simulator on real TCP and the station's database: a
card in a fuelling point's reader is locked, debited when its fuelling completes, and a card pulled before the
debit stays grey and is debited at its next insertion. Every step replayed never debits twice."""

from __future__ import annotations

import psycopg
import pytest

from business_services.ic_cards.provider import IcCardProvider
from business_services.payments import service
from business_services.payments.model import TakePayment, Tender
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.card_reader import Ins
from telemetry.contracts.events.payments import Method
from tests.integration.ic_cards.ic_support import CARD, card_readers, deliver, desk, fuelling, outbox, rows
from tests.integration.sales.payments_support import MANAGER, STATION, add_orders, open_shift

pytestmark = pytest.mark.integration


async def order_state(url: str) -> list[tuple[object, ...]]:
    return await rows(url, "SELECT amount_fen, paid_fen, status FROM business.orders ORDER BY order_no")


async def ic_payments(url: str) -> list[tuple[object, ...]]:
    return await rows(url, "SELECT state, amount_fen FROM business.payments WHERE method = 'ic_card' ORDER BY 1")


async def test_a_card_left_in_the_reader_is_locked_then_debited_when_the_fuelling_completes(
        station_database_url: str, broker: BrokerAddress) -> None:
    url = station_database_url
    await open_shift(url)
    async with card_readers(["disp-01/1", "disp-01/2"]) as (sim, link):
        chip = sim.issue(CARD, 50000)
        station = desk(url, STATION, sim, link)
        sim.insert("disp-01/1", CARD)
        await station.poll()
        assert chip.grey is not None and (chip.grey.station, chip.grey.pump, chip.grey.fuelling_point) == (
            STATION, "disp-01", 1)
        await deliver(url, broker, fuelling(STATION, 1, 1, 23456), STATION)
        assert await rows(url, "SELECT state, amount_fen FROM business.ic_grey_locks") == [("due", 23456)]
        await station.poll()
        assert (chip.balance_fen, chip.grey) == (50000 - 23456, None)
        assert await order_state(url) == [(23456, 23456, "paid")]
        [captured] = await outbox(url, "payment.captured")
        assert (captured["method"], captured["card_no"], captured["amount_fen"]) == ("ic_card", CARD, 23456)
        assert captured["provider_ref"].startswith(f"ic:{chip.log[0].counter}:")
        assert await outbox(url, "ic_card.grey_recorded") == []          # never left grey: nothing to report


async def test_a_card_pulled_before_the_debit_stays_grey_and_every_replayed_step_debits_once(
        station_database_url: str, broker: BrokerAddress) -> None:
    url = station_database_url
    await open_shift(url)
    async with card_readers(["disp-01/1", "disp-01/2"]) as (sim, link):
        chip = sim.issue(CARD, 50000)
        station = desk(url, STATION, sim, link)
        provider = IcCardProvider(station)
        sim.insert("disp-01/1", CARD)
        await station.poll()
        sim.pull("disp-01/1")                                   # pulled during the fuelling
        done = fuelling(STATION, 1, 7, 30000)
        await deliver(url, broker, done, STATION)
        for _ in range(2):                                      # the poller's rounds while the card is away
            await station.poll()
        assert chip.grey is not None and chip.balance_fen == 50000                       # grey, not debited
        assert await order_state(url) == [(30000, 0, "payable")]
        assert await ic_payments(url) == [("pending", 30000)]                           # the order: unpaid-grey
        [payment_no] = [p for (p,) in await rows(url, "SELECT payment_no FROM business.payments")]
        [grey] = await outbox(url, "ic_card.grey_recorded")
        assert (grey["card_no"], grey["counter"], grey["amount_fen"], grey["payment_no"]) == (
            CARD, chip.grey.counter, 30000, payment_no)

        # replay every step before the card returns: the fuelling again, the poller, the provider, a new payment
        await deliver(url, broker, done, STATION)
        await station.settle_due()
        assert (await provider.query(payment_no)).state.value == "pending"
        assert chip.balance_fen == 50000 and len(await outbox(url, "ic_card.grey_recorded")) == 1

        sim.insert("disp-01/2", CARD)                           # back, at the other side of the same pump
        await station.poll()
        assert chip.balance_fen == 20000 and chip.grey is not None                       # debited, then locked anew
        assert chip.grey.fuelling_point == 2
        assert await order_state(url) == [(30000, 30000, "paid")]
        assert await ic_payments(url) == [("succeeded", 30000)]

        # and every step again after the debit: nothing moves
        await deliver(url, broker, done, STATION)
        for _ in range(2):
            await station.poll()
        await station.settle_due()
        assert (await provider.query(payment_no)).state.value == "succeeded"
        second_lock = chip.grey.counter
        sim.pull("disp-01/2")
        sim.insert("disp-01/2", CARD)
        await station.poll()
        assert chip.balance_fen == 20000 and [r.kind for r in chip.log] == ["P"]        # one debit, ever
        assert chip.grey is not None and chip.grey.counter == second_lock         # the new lock waits for its fuel
        assert len(await outbox(url, "payment.captured")) == 1
        assert await rows(url, "SELECT count(*) FROM business.ic_grey_locks WHERE state = 'debited'") == [(1,)]


async def test_a_debit_whose_answer_was_lost_is_recovered_from_the_chip_not_repeated(
        station_database_url: str, broker: BrokerAddress) -> None:
    url = station_database_url
    await open_shift(url)
    async with card_readers(["disp-01/1"]) as (sim, link):
        chip = sim.issue(CARD, 50000)
        station = desk(url, STATION, sim, link)
        sim.insert("disp-01/1", CARD)
        await station.poll()
        await deliver(url, broker, fuelling(STATION, 1, 2, 12000), STATION)
        slot = sim.readers[sim.address("disp-01/1")]
        slot.pull_during_next, slot.pull_on = "after", Ins.DEBIT_FOR_PURCHASE    # the chip debits; the answer is lost
        await station.poll()
        assert chip.balance_fen == 38000 and chip.grey is None
        assert await ic_payments(url) == [("pending", 12000)]
        sim.insert("disp-01/1", CARD)
        await station.poll()
        assert chip.balance_fen == 38000 and [r.kind for r in chip.log] == ["P"]        # no second debit
        assert await ic_payments(url) == [("succeeded", 12000)]
        assert await order_state(url) == [(12000, 12000, "paid")]


async def test_a_pos_payment_locks_debits_and_unlocks_and_refuses_a_short_purse(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    first, second = await add_orders(url, 8800, 99000)
    async with card_readers(["pos-1"]) as (sim, link):
        chip = sim.issue(CARD, 20000)
        station = desk(url, STATION, sim, link)
        sim.insert("pos-1", CARD)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            [paid] = await service.take(conn, station.bus, station.providers, TakePayment(
                STATION, "pos-1", "cashier", (first,), (Tender(Method.IC_CARD, 8800, reference="pos-1"),),
                station.now()), MANAGER)
            assert (paid.state, chip.balance_fen, chip.grey) == ("succeeded", 11200, None)
            [refused] = await service.take(conn, station.bus, station.providers, TakePayment(
                STATION, "pos-1", "cashier", (second,), (Tender(Method.IC_CARD, 99000, reference="pos-1"),),
                station.now()), MANAGER)
            assert refused.state == "failed" and "余额不足" in refused.message and chip.grey is None
        [captured] = await outbox(url, "payment.captured")
        assert captured["card_no"] == CARD



async def test_a_lock_whose_order_was_paid_otherwise_is_released_without_a_debit(
        station_database_url: str, broker: BrokerAddress) -> None:
    url = station_database_url
    await open_shift(url)
    async with card_readers(["disp-01/1"]) as (sim, link):
        chip = sim.issue(CARD, 50000)
        station = desk(url, STATION, sim, link)
        sim.insert("disp-01/1", CARD)
        await station.poll()
        await deliver(url, broker, fuelling(STATION, 1, 5, 4321), STATION)
        [(order_no,)] = await rows(url, "SELECT order_no FROM business.orders")
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:   # paid in cash first
            await service.take(conn, station.bus, station.providers, TakePayment(
                STATION, "pos-1", "cashier", (order_no,), (Tender(Method.CASH, 4321),), station.now()), MANAGER)
        await station.poll()
        assert (chip.balance_fen, chip.grey, [r.kind for r in chip.log]) == (50000, None, ["U"])
        assert await rows(url, "SELECT state FROM business.ic_grey_locks") == [("released",)]
        assert await ic_payments(url) == []
        assert await rows(url, "SELECT count(*) FROM business.audit_log WHERE action = 'ic_card.grey.release'") == [
            (1,)]
