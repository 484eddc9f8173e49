"""The card reader simulator on real TCP and its control API: the client's operations, and every failure mode
answered with an error the client names (never a crash of the simulator, never a hang of the client)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import httpx
import pytest

from business_services.ic_cards.reader import CardGone, CardRefused, ReaderLink, ReaderUnavailable
from simulators.card_reader.server import control_app
from telemetry.contracts.card_reader import SW, Frame, FrameType, GreyRecord, ReaderFault, split
from tests.integration.ic_cards.ic_support import CARD, PSAM, card_readers

pytestmark = pytest.mark.integration
AT = datetime(2026, 12, 5, 8, tzinfo=UTC)


async def test_the_client_reads_locks_and_debits_and_names_each_refusal() -> None:
    async with card_readers(["pos-1", "disp-01/1"]) as (sim, link):
        slot = link.slot(sim.address("pos-1"))
        with pytest.raises(CardGone, match="请插卡"):
            await slot.open()
        sim.issue(CARD, 5000)
        sim.insert("pos-1", CARD)
        purse = await slot.open()
        assert (purse.card_no, purse.balance_fen, purse.counter, purse.grey) == (CARD, 5000, 0, None)
        counter, _ = await slot.lock(GreyRecord("demo-01", "pos-1", 0, AT))
        assert (await slot.open()).grey == GreyRecord("demo-01", "pos-1", 0, AT, counter)
        with pytest.raises(CardRefused) as refused:
            await slot.debit_for_unlock(counter, 9000, AT, PSAM.unlock_mac(CARD, counter, 9000, AT))
        assert refused.value.sw == SW.INSUFFICIENT and "余额不足" in str(refused.value)
        with pytest.raises(CardRefused, match="MAC"):
            await slot.debit_for_unlock(counter, 100, AT, b"\0\0\0\0")
        sim.readers[sim.address("pos-1")].pull_during_next = "before"
        with pytest.raises(CardGone) as gone:
            await slot.debit_for_unlock(counter, 100, AT, PSAM.unlock_mac(CARD, counter, 100, AT))
        assert gone.value.uncertain and sim.cards[CARD].balance_fen == 5000    # pulled before the chip ran it
        sim.insert("disp-01/1", CARD)                                          # one card is in one slot at a time
        assert await slot.status() == (False, 1)
        with pytest.raises(ReaderUnavailable):
            await link.slot(9).status()                                         # no reader at address 9


async def test_garbage_and_corrupt_frames_are_answered_and_the_link_goes_on() -> None:
    async with card_readers(["pos-1"]) as (sim, link):
        reader, writer = await asyncio.open_connection(link.host, link.port)
        rng = random.Random(18)
        for _ in range(50):
            writer.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
        corrupt = bytearray(Frame(1, FrameType.STATUS, 1).encode())
        corrupt[-2] ^= 0xFF
        writer.write(bytes(corrupt) + b"\x02\x00\x03" + b"\x00" * 3 + b"\x00\x00\x03")
        writer.write(Frame(1, FrameType.STATUS, 42).encode())   # a good frame after all that is still answered
        await writer.drain()
        buffer, answers = b"", []
        while not any(isinstance(a, Frame) and a.seq == 42 for a in answers):
            buffer += await asyncio.wait_for(reader.read(4096), 5)
            while True:
                found, used = split(buffer)
                buffer = buffer[used:]
                if found is None and not used:
                    break
                answers.append(found)
        writer.close()
        errors = [a for a in answers if isinstance(a, Frame) and a.type == FrameType.ERROR]
        assert errors and all(a.payload == bytes((ReaderFault.BAD_FRAME,)) for a in errors)
        assert sim.bad_frames >= 1
        assert await link.slot(1).status() == (False, 0)                        # the simulator still serves


async def test_a_silent_reader_is_unavailable_within_the_time_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(4096)
        await asyncio.sleep(5)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with ReaderLink("127.0.0.1", port, timeout_s=0.5) as link:
        with pytest.raises(ReaderUnavailable, match="读卡器无响应"):
            await link.slot(1).status()
    server.close()
    async with ReaderLink("127.0.0.1", port, timeout_s=0.5) as link:
        with pytest.raises(ReaderUnavailable):
            await link.slot(1).status()                                         # nobody listening


async def test_the_control_api_inserts_pulls_and_injects_faults() -> None:
    async with card_readers(["disp-01/1"]) as (sim, link):
        control = httpx.AsyncClient(transport=httpx.ASGITransport(app=control_app(sim)), base_url="http://sim")
        async with control:
            assert (await control.post("/_sim/cards", json={"card_no": "12"})).status_code == 422
            assert (await control.post("/_sim/cards", json={"card_no": CARD, "balance_fen": 800})).status_code == 201
            assert (await control.put("/_sim/readers/disp-01/1/card", json={"card_no": CARD})).status_code == 200
            assert await link.slot(1).status() == (True, 1)
            fault = await control.post("/_sim/readers/disp-01/1/faults", json={"pull_during_next": "after"})
            assert fault.status_code == 200
            with pytest.raises(CardGone):
                await link.slot(1).open()
            assert (await control.get("/_sim/readers")).json()["items"][0]["card_no"] is None
            assert (await control.put("/_sim/readers/nope/card", json={"card_no": CARD})).status_code == 404
            assert (await control.delete("/_sim/readers/disp-01/1/card")).status_code == 200
            assert (await control.get(f"/_sim/cards/{CARD}")).json()["balance_fen"] == 800
