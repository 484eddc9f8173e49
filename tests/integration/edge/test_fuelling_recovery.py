"""Issue 12 item 5 at the edge: fuellings that ended while the edge was down are read back from the real
dispenser simulator, and those the pump no longer holds become one gap with the litres from the totalizers.

The pump keeps 4 transactions per side (a ring: paid ones make room) and the cashier pays every
sale at once, so the pump goes on authorising while the edge is down and overwrites what it did not read.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from edge_nodes.devices.dispenser import DispenserCommands
from edge_nodes.fuelling_recovery import FuellingRecovery
from edge_nodes.outbox import Outbox
from edge_nodes.poller import ModbusPoller
from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.server import DispenserServer
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import FUELLING_GAP, FuellingGap
from tests.support.station import dispenser, sell, station_for

pytestmark = pytest.mark.integration

PUMP = DispenserConfig(fuelling_points=[FuellingPointConfig(nozzles=[
    NozzleConfig(grade_id=92, price_fen=789, initial_volume_total_cl=100_000)])], buffer_size=4, unpaid_limit=2)
#: centilitres of each fuelling, in order; a volume preset ends on exactly its volume
SALES = [200, 350, 120, 410, 95, 230, 180, 305]



class _Edge:
    """What the edge node does with one dispenser's readings, with the events it emits kept in a list."""

    def __init__(self, server: DispenserServer, outbox: Outbox) -> None:
        device = station_for(server).devices[0]
        poller = device.source()
        assert isinstance(poller, ModbusPoller)
        self.poller = poller
        self.events: list[CloudEvent] = []
        self.recovery = FuellingRecovery("st-01", outbox, self._emit,
                                         {"disp-01": DispenserCommands(poller.connection)})

    async def _emit(self, event: CloudEvent) -> None:
        self.events.append(event)

    async def poll(self) -> None:
        snapshot = await self.poller.poll_once()
        assert snapshot.available
        await self.recovery.on_readings("disp-01", 1, {r.key: r for r in snapshot.readings})

    def close(self) -> None:
        self.poller.connection.close()


async def test_fuellings_overwritten_while_the_edge_was_down_become_one_gap_with_their_litres(tmp_path: Path) -> None:
    async with dispenser(PUMP, speed=20.0) as pump:
        outbox = Outbox(tmp_path / "outbox.sqlite")
        await outbox.open()
        try:
            edge = _Edge(pump, outbox)
            assert await sell(pump, SALES[0]) == 0
            await edge.poll()
            edge.close()
            before_restart = await outbox.get_state("disp-01/fp1/book")
            for centilitres in SALES[1:]:            # the edge is down: 7 more sales, 4 kept by the pump
                assert await sell(pump, centilitres) == 0
            restarted = _Edge(pump, outbox)
            await restarted.poll()
            await restarted.poll()                   # nothing new: nothing more
            restarted.close()

            replay = Outbox(tmp_path / "replay.sqlite")   # a crash before the book was saved: same events again
            await replay.open()
            try:
                assert before_restart is not None
                await replay.set_state("disp-01/fp1/book", before_restart)
                again = _Edge(pump, replay)
                await again.poll()
                again.close()
            finally:
                await replay.close()
        finally:
            await outbox.close()
        totalizer_cl = pump.model.view().fuelling_points[0].nozzles[0].volume_total_cl

    assert [e.data["transaction"] for e in edge.events] == [1]
    completed = [e for e in restarted.events if e.type == "fuelling.completed"]
    gaps = [FuellingGap.model_validate(e.data) for e in restarted.events if e.type == FUELLING_GAP]
    assert [e.data["transaction"] for e in completed] == [5, 6, 7, 8]
    [gap] = gaps
    assert gap.missing_transactions == (2, 3, 4)
    assert gap.volume_l == Decimal(sum(SALES[1:4])) / 100
    assert (gap.totalizer_from_l, gap.totalizer_to_l) == (Decimal(100_000 + SALES[0]) / 100,
                                                          Decimal(100_000 + sum(SALES[:4])) / 100)
    recorded_l = sum(Decimal(str(e.data["volume_l"])) for e in edge.events + completed)
    assert recorded_l + gap.volume_l == Decimal(totalizer_cl - 100_000) / 100, "every litre accounted for"
    assert [e.id for e in again.events] == [e.id for e in restarted.events]


async def test_a_read_back_that_fails_halfway_resumes_at_the_next_poll_in_order(tmp_path: Path) -> None:
    async with dispenser(PUMP, speed=20.0) as pump:
        outbox = Outbox(tmp_path / "outbox.sqlite")
        await outbox.open()
        try:
            edge = _Edge(pump, outbox)
            assert await sell(pump, SALES[0]) == 0
            await edge.poll()
            for centilitres in SALES[1:4]:           # three sales unseen, all still in the buffer
                assert await sell(pump, centilitres) == 0
            snapshot = await edge.poller.poll_once()
            pump.faults.fail_reads(count=1)          # the first read-back answers an exception
            await edge.recovery.on_readings("disp-01", 1, {r.key: r for r in snapshot.readings})
            failed_at = len(edge.events)
            await edge.poll()
            edge.close()
        finally:
            await outbox.close()
    assert failed_at == 1, "nothing after a failed read-back is taken out of order"
    assert [e.data["transaction"] for e in edge.events] == [1, 2, 3, 4]
    assert all(e.type == "fuelling.completed" for e in edge.events)


TWO_NOZZLES = DispenserConfig(fuelling_points=[FuellingPointConfig(nozzles=[
    NozzleConfig(grade_id=92, price_fen=789, initial_volume_total_cl=100_000),
    NozzleConfig(grade_id=95, price_fen=836, initial_volume_total_cl=300_000)])], buffer_size=4, unpaid_limit=2)



async def test_the_last_sales_of_a_nozzle_lost_before_a_quiet_restart_show_as_a_gap_without_waiting_for_its_next(
        tmp_path: Path) -> None:
    async with dispenser(TWO_NOZZLES, speed=20.0) as pump:
        outbox = Outbox(tmp_path / "outbox.sqlite")
        await outbox.open()
        try:
            edge = _Edge(pump, outbox)
            assert await sell(pump, 200, nozzle=1) == 0                     # #1, seen
            await edge.poll()
            edge.close()
            assert await sell(pump, 330, nozzle=2) == 0                     # #2, #3 on the 95 nozzle, edge down
            assert await sell(pump, 145, nozzle=2) == 0
            for centilitres in (100, 120, 140, 160):            # #4..#7 on the 92 nozzle push them out
                assert await sell(pump, centilitres, nozzle=1) == 0
            restarted = _Edge(pump, outbox)
            await restarted.poll()                               # closing time: nobody fuels at 95 again
            await restarted.poll()
            restarted.close()
        finally:
            await outbox.close()
    completed = [e.data["transaction"] for e in restarted.events if e.type == "fuelling.completed"]
    gaps = [FuellingGap.model_validate(e.data) for e in restarted.events if e.type == FUELLING_GAP]
    assert completed == [4, 5, 6, 7]
    [gap] = gaps
    assert (gap.nozzle, gap.grade, gap.missing_transactions) == (2, 95, (2, 3))
    assert (gap.totalizer_from_l, gap.volume_l) == (Decimal("3000.00"), Decimal("4.75"))


async def test_numbers_too_far_back_to_read_one_by_one_are_missing_and_inside_the_gap(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge_nodes.fuelling_recovery.MAX_READBACK", 2)
    async with dispenser(PUMP, speed=20.0) as pump:
        outbox = Outbox(tmp_path / "outbox.sqlite")
        await outbox.open()
        try:
            edge = _Edge(pump, outbox)
            assert await sell(pump, SALES[0]) == 0
            await edge.poll()
            edge.close()
            for centilitres in SALES[1:]:
                assert await sell(pump, centilitres) == 0
            restarted = _Edge(pump, outbox)
            await restarted.poll()
            restarted.close()
        finally:
            await outbox.close()
    completed = [e.data["transaction"] for e in restarted.events if e.type == "fuelling.completed"]
    [gap] = [FuellingGap.model_validate(e.data) for e in restarted.events if e.type == FUELLING_GAP]
    assert completed == [6, 7, 8], "#5 is still held but further back than the edge reads one by one"
    assert gap.missing_transactions == (2, 3, 4, 5)
    assert gap.volume_l == Decimal(sum(SALES[1:5])) / 100


async def test_an_unreadable_book_is_logged_and_started_again_from_the_latest_transaction(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with dispenser(PUMP, speed=20.0) as pump:
        outbox = Outbox(tmp_path / "outbox.sqlite")
        await outbox.open()
        try:
            await outbox.set_state("disp-01/fp1/book", '{"seen": "x"')
            for centilitres in SALES[:2]:
                assert await sell(pump, centilitres) == 0
            edge = _Edge(pump, outbox)
            await edge.poll()
            edge.close()
            book = await outbox.get_state("disp-01/fp1/book")
        finally:
            await outbox.close()
    assert [e.data["transaction"] for e in edge.events] == [2]
    assert "book is unreadable" in caplog.text
    assert book is not None and '"seen": 2' in book
