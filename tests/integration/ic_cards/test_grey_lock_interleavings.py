"""Never two debits, whatever the order: random interleavings of every step of one fuelling paid by IC card —
the card pulled and put back in either reader, pulled in the middle of a chip command, the fuelling event
delivered again, the poller, the due-lock pass and the provider's query — always end with the fuelling debited
exactly once on the chip, one IC payment captured and the order paid."""

from __future__ import annotations

import random

import pytest

from business_services.ic_cards.provider import IcCardProvider
from telemetry.contracts.broker import BrokerAddress
from tests.integration.ic_cards.ic_support import CARD, card_readers, deliver, desk, fuelling, outbox, rows
from tests.integration.sales.payments_support import STATION, open_shift

pytestmark = pytest.mark.integration
READERS = ["disp-01/1", "disp-01/2"]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_random_interleavings_debit_a_fuelling_exactly_once(station_database_url: str, broker: BrokerAddress,
                                                                    seed: int) -> None:
    url, rng = station_database_url, random.Random(seed)
    await open_shift(url)
    async with card_readers(READERS) as (sim, link):
        chip = sim.issue(CARD, 90000)
        station = desk(url, STATION, sim, link)
        provider = IcCardProvider(station)
        sim.insert("disp-01/1", CARD)
        await station.poll()
        first_lock = chip.grey.counter if chip.grey else None
        done = fuelling(STATION, 1, 11, 25000)
        delivered = False
        for _ in range(14):
            step = rng.choice(["pull", "insert", "fault", "deliver", "poll", "settle", "query"])
            if step == "pull":
                for reader in READERS:
                    sim.pull(reader)
            elif step == "insert":
                sim.insert(rng.choice(READERS), CARD)
            elif step == "fault":
                slot = sim.readers[rng.choice([1, 2])]
                slot.pull_during_next = rng.choice(["before", "after"])
            elif step == "deliver" or (step == "poll" and not delivered and rng.random() < 0.3):
                await deliver(url, broker, done, STATION)
                delivered = True
            elif step == "poll":
                await station.poll()
            elif step == "settle":
                await station.settle_due()
            else:
                for (payment_no,) in await rows(url, "SELECT payment_no FROM business.payments"):
                    await provider.query(payment_no)
        for slot in sim.readers.values():          # the end: the fuelling is known, the card goes back in once
            slot.pull_during_next = None
        await deliver(url, broker, done, STATION)
        sim.pull("disp-01/1")
        sim.pull("disp-01/2")
        sim.insert("disp-01/1", CARD)
        for _ in range(2):
            await station.poll()
        purchases = [r for r in chip.log if r.kind == "P"]
        assert [(r.counter, r.amount_fen) for r in purchases] == [(first_lock, 25000)], chip.log
        assert chip.balance_fen == 90000 - 25000
        assert await rows(url, "SELECT state FROM business.payments WHERE method = 'ic_card'") == [("succeeded",)]
        assert await rows(url, "SELECT status FROM business.orders") == [("paid",)]
        assert len(await outbox(url, "payment.captured")) == 1
