"""Price sets with the real dispenser simulator over Modbus, a real edge node and Mosquitto (docs/station-prices.md).

A set published on the command topic is applied between fuellings: a fuelling in progress keeps its price and
its fuelling.completed names the old version, the next one the new; each price is read back from the pump and
reported as price.applied. A pump that refuses leaves the set partly applied while the other nozzles apply and
sell. An edge whose broker is away applies the set when it returns (head office sends it again), its fuellings
meanwhile carry the old version. An edge restarted mid-apply carries on from its files.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from edge_nodes.runtime import EdgeNode
from forecourt.local import LocalBroker
from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.server import DispenserServer
from simulators.dispenser.states import FpState, PresetType
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import command_topic
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import FuellingCompleted
from telemetry.contracts.prices import REPLACE_PRICE_SET, PriceApplied, PriceSet
from telemetry.contracts.topics import events_filter
from tests.support.mqtt import recording
from tests.support.station import dispenser, sell, station_for

pytestmark = [pytest.mark.integration, pytest.mark.serial]

TWO_SIDES = DispenserConfig(fuelling_points=[
    FuellingPointConfig(nozzles=[NozzleConfig(grade_id=92, price_fen=789, initial_volume_total_cl=100_000),
                                 NozzleConfig(grade_id=95, price_fen=836)]),
    FuellingPointConfig(nozzles=[NozzleConfig(grade_id=92, price_fen=789, initial_volume_total_cl=50_000)])], seed=5)
NOZZLES = [(1, 1, "92"), (1, 2, "95"), (2, 1, "92")]


def price_set(version: int, p92: int, p95: int) -> PriceSet:
    return PriceSet.model_validate({
        "station": "st-01", "version": version, "effective_at": datetime.now(UTC).isoformat(),
        "grades": {"92": p92, "95": p95}, "change_no": f"PC{version}",
        "nozzles": [{"device": "disp-01", "fuelling_point": fp, "nozzle": n, "grade": g,
                     "price_fen": p92 if g == "92" else p95} for fp, n, g in NOZZLES]})


async def publish(broker: BrokerAddress, group: str, s: PriceSet) -> None:
    """What head office does when a set is due (and again while it is not applied)."""
    event = s.envelope(event_id=s.event_id(), source="head-office/prices", subject="st-01")
    async with aiomqtt.Client(**broker.client_kwargs()) as head_office:
        await head_office.publish(command_topic(group, "st-01", REPLACE_PRICE_SET), event.to_bytes(), qos=1)


class Spy:
    """Every event the edge node puts into its outbox (whatever the broker is doing)."""

    def __init__(self, node: EdgeNode) -> None:
        self.events: list[CloudEvent] = []
        put = node.outbox.put_event

        async def spy(topic: str, body: bytes) -> None:
            self.events.append(CloudEvent.from_bytes(body))
            await put(topic, body)
        node.outbox.put_event = spy  # type: ignore[method-assign]

    def reports(self, version: int) -> dict[tuple[int, int], PriceApplied]:
        """The newest report per nozzle for ``version``."""
        out: dict[tuple[int, int], PriceApplied] = {}
        for e in self.events:
            if e.type == "price.applied":
                r = PriceApplied.model_validate(e.data)
                if r.version == version:
                    out[(r.fuelling_point, r.nozzle)] = r
        return out

    def states(self, version: int) -> dict[tuple[int, int], str]:
        return {k: r.state for k, r in self.reports(version).items()}

    def fuellings(self) -> list[FuellingCompleted]:
        return [FuellingCompleted.from_event(e) for e in self.events if e.type == "fuelling.completed"]


async def until(predicate: Callable[[], bool], within_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the expected state did not come")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running(node: EdgeNode) -> AsyncIterator[EdgeNode]:
    task = asyncio.create_task(node.run())
    try:
        yield node
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def edge(server: DispenserServer, broker: BrokerAddress, group: str, tmp_path: Path) -> tuple[EdgeNode, Spy]:
    node = EdgeNode(station_for(server, poll_s=0.2), broker, group=group, outbox_path=tmp_path / "outbox.sqlite",
                    price_set_path=tmp_path / "st-01.price-set.json")
    return node, Spy(node)


async def start_fuelling(server: DispenserServer, centilitres: int, fp: int = 1, nozzle: int = 1) -> None:
    """A customer lifts the nozzle and the POS authorises a volume: the pump runs until we say ``finish``."""
    server.catch_up()
    server.model.lift_nozzle(fp, nozzle)
    assert int(server.model.authorise(fp, PresetType.VOLUME, centilitres, nozzle)) == 0
    while server.model.fp_view(fp).state not in (FpState.STARTED, FpState.FUELLING):
        await asyncio.sleep(0.05)
        server.catch_up()


async def finish(server: DispenserServer, fp: int = 1, nozzle: int = 1) -> None:
    while server.model.fp_view(fp).state in (FpState.AUTHORISED, FpState.STARTED, FpState.FUELLING):
        await asyncio.sleep(0.05)
        server.catch_up()
    server.model.hang_nozzle(fp, nozzle)
    server.model.clear(fp)


def price_of(server: DispenserServer, fp: int, nozzle: int) -> int:
    return server.model.fp_view(fp).nozzles[nozzle - 1].price_fen


async def test_applied_between_two_fuellings_and_a_refusing_pump_leaves_it_partly_applied(
        broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    async with dispenser(TWO_SIDES, speed=2.0) as server, recording(broker, events_filter(group, "st-01")) as rec:
        node, spy = edge(server, broker, group, tmp_path)
        async with running(node):
            await asyncio.wait_for(node.connected.wait(), 10)
            await publish(broker, group, price_set(1, 789, 836))
            await until(lambda: set(spy.states(1).values()) == {"applied"} and len(spy.states(1)) == 3)

            await start_fuelling(server, 300, fp=1, nozzle=1)          # 3 L at 7.89 under version 1
            server.model.refuse_prices(2, 1)                           # fp2's price board takes no new price
            await publish(broker, group, price_set(2, 802, 851))
            await until(lambda: spy.states(2).get((2, 1)) == "refused" and spy.states(2).get((1, 1)) == "pending")
            assert spy.states(2)[(1, 2)] == "pending"                  # same side as the open fuelling: waits too
            assert price_of(server, 1, 1) == 789                       # never during a fuelling
            refused = spy.reports(2)[(2, 1)]
            assert "789" in refused.detail and refused.attempt == 1

            await finish(server, fp=1, nozzle=1)
            await until(lambda: spy.states(2).get((1, 1)) == "applied" and spy.states(2).get((1, 2)) == "applied")
            assert (price_of(server, 1, 1), price_of(server, 1, 2), price_of(server, 2, 1)) == (802, 851, 789)
            assert "802" in spy.reports(2)[(1, 1)].detail                  # read back from the pump

            await sell(server, 200, fp=1, nozzle=1)                    # the next fuelling: the new price
            await sell(server, 150, fp=2, nozzle=1)                    # the refusing side keeps selling, old price
            await until(lambda: len(spy.fuellings()) == 3)
            first, second, third = spy.fuellings()
            assert (first.price_fen_per_l, first.price_set) == (789, 1)
            assert (second.price_fen_per_l, second.price_set) == (802, 2)
            assert (third.fuelling_point, third.price_fen_per_l, third.price_set) == (2, 789, 1)

            await rec.wait_until(lambda: sum(t.endswith("/price.applied") for t, _ in rec.messages) >= 7, 15)
            over_mqtt = {CloudEvent.from_bytes(raw).id for t, raw in rec.messages if t.endswith("/price.applied")}
            assert {e.id for e in spy.events if e.type == "price.applied"} <= over_mqtt


async def test_a_refused_nozzle_is_tried_again_and_applies_when_the_pump_takes_it(
        broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    async with dispenser(TWO_SIDES, speed=2.0) as server:
        node, spy = edge(server, broker, group, tmp_path)
        node.prices._retry_first_s = 0.5
        server.model.refuse_prices(2, 1)
        async with running(node):
            await asyncio.wait_for(node.connected.wait(), 10)
            await publish(broker, group, price_set(1, 799, 846))
            await until(lambda: spy.states(1).get((2, 1)) == "refused")
            server.model.refuse_prices(2, 1, refuse=False)             # the technician fixed the board
            await until(lambda: spy.states(1).get((2, 1)) == "applied")
            assert spy.reports(1)[(2, 1)].attempt >= 2 and price_of(server, 2, 1) == 799


async def test_an_edge_without_its_broker_applies_the_set_when_it_returns(group: str, tmp_path: Path) -> None:
    local = LocalBroker(tmp_path / "broker")
    address = await local.start()
    try:
        async with dispenser(TWO_SIDES, speed=2.0) as server:
            node, spy = edge(server, address, group, tmp_path)
            async with running(node):
                await asyncio.wait_for(node.connected.wait(), 10)
                await publish(address, group, price_set(1, 789, 836))
                await until(lambda: len(spy.states(1)) == 3 and set(spy.states(1).values()) == {"applied"})

                await local.stop()                                     # the uplink is down at the scheduled time
                await sell(server, 200, fp=1)
                await sell(server, 100, fp=2)
                await until(lambda: len(spy.fuellings()) == 2)
                assert not node.connected.is_set()
                assert [(f.price_fen_per_l, f.price_set) for f in spy.fuellings()] == [(789, 1), (789, 1)]

                await local.start(port=address.port)                   # back: head office sends the set again
                await asyncio.wait_for(node.connected.wait(), 30)
                await publish(address, group, price_set(2, 812, 861))
                await until(lambda: len(spy.states(2)) == 3 and set(spy.states(2).values()) == {"applied"})
                await sell(server, 100, fp=1)
                await until(lambda: len(spy.fuellings()) == 3)
                assert (spy.fuellings()[2].price_fen_per_l, spy.fuellings()[2].price_set) == (812, 2)
                rows, _ = await node.outbox.size()
                for _ in range(100):
                    if rows == 0:
                        break
                    await asyncio.sleep(0.1)
                    rows, _ = await node.outbox.size()
                assert rows == 0                                       # what was sold offline went up too
    finally:
        await local.stop()


async def test_an_edge_restarted_mid_apply_carries_on(broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    async with dispenser(TWO_SIDES, speed=2.0) as server:
        node, spy = edge(server, broker, group, tmp_path)
        async with running(node):
            await asyncio.wait_for(node.connected.wait(), 10)
            await publish(broker, group, price_set(1, 789, 836))
            await until(lambda: len(spy.states(1)) == 3 and set(spy.states(1).values()) == {"applied"})
            await start_fuelling(server, 300, fp=1)
            await publish(broker, group, price_set(2, 820, 870))
            await until(lambda: spy.states(2) == {(1, 1): "pending", (1, 2): "pending", (2, 1): "applied"})
        # the edge stopped; the fuelling ends meanwhile; a new edge process starts from the same files
        await finish(server, fp=1)
        again, spy2 = edge(server, broker, group, tmp_path)
        assert again.prices.version == 2
        async with running(again):
            await until(lambda: spy2.states(2) == {(1, 1): "applied", (1, 2): "applied"})
            await until(lambda: len(spy2.fuellings()) == 1)
            done = spy2.fuellings()[0]                                 # read after the restart: still the old set
            assert (done.price_fen_per_l, done.price_set) == (789, 1)
            await sell(server, 100, fp=1)
            await until(lambda: len(spy2.fuellings()) == 2)
            assert (spy2.fuellings()[1].price_fen_per_l, spy2.fuellings()[1].price_set) == (820, 2)
        assert {r.attempt for r in spy2.reports(2).values()} == {1}     # the same tries, resumed
