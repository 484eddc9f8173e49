"""The edge node's OCPP central system against the real charger simulator, OCPP 1.6J and 2.0.1.

Each test runs the ``protocol: ocpp`` device source on a free port and one simulated charger on a
fast SimClock (a 5 s meter interval is 0.25 s of wall time), and watches what a real edge node
would get: the snapshots the source emits and the ``ChargingSession``s it hands over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from edge_nodes.devices.ocpp import OcppDevice, OcppSource
from edge_nodes.source import Snapshot
from protocol_adapters.ocpp import ChargingSession
from protocol_adapters.readings import DeviceUnavailable, Reading
from simulators.charger import ChargerConfig, ChargerSimulator, ConnectorConfig
from simulators.clock import SimClock
from telemetry.contracts.quality import Quality

pytestmark = pytest.mark.integration

SPEED = 20.0
START_WH = 125_000
PROFILE = {"1.6": "ac7", "2.0.1": "dc60"}


@dataclass
class Csms:
    """The source under test and what it emitted."""

    source: OcppSource
    snapshots: list[Snapshot] = field(default_factory=list)
    sessions: list[ChargingSession] = field(default_factory=list)

    def value(self, key: str) -> Reading:
        return {r.key: r for r in self.snapshots[-1].readings}[key]

    def history(self, key: str) -> list[Any]:
        return [r.value for s in self.snapshots for r in s.readings if r.key == key and r.quality is Quality.GOOD]


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def central_system() -> AsyncIterator[Csms]:
    device = OcppDevice(protocol="ocpp", code="chargers", listen_host="127.0.0.1", listen_port=0,
                        charge_points=[{"id": "chg-01", "connectors": 2}, "chg-02"],  # type: ignore[list-item]
                        id_tags={"RFID0001": "Accepted", "STOLEN01": "Blocked"},  # type: ignore[dict-item]
                        heartbeat_interval_s=10)
    csms = Csms(device.source())

    async def emit(snapshot: Snapshot) -> None:
        csms.snapshots.append(snapshot)

    async def record(session: ChargingSession) -> None:
        csms.sessions.append(session)

    csms.source.on_session = record
    task = asyncio.create_task(csms.source.run(emit))
    try:
        await asyncio.wait_for(csms.source.ready.wait(), 5)
        yield csms
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def charger(csms: Csms, version: str) -> ChargerSimulator:
    config = ChargerConfig(
        charge_point_id="chg-01", ocpp_version=version, profile=PROFILE[version],  # type: ignore[arg-type]
        connectors=[ConnectorConfig(connector_id=1, meter_start_wh=START_WH), ConnectorConfig(connector_id=2)],
        meter_interval_s=5, reconnect_min_s=1.0, reconnect_max_s=2.0, response_timeout_s=10.0, seed=5)
    return ChargerSimulator(config, SimClock(SPEED), url=f"ws://127.0.0.1:{csms.source.csms.port}/ocpp/chg-01")


@pytest.fixture(params=["1.6", "2.0.1"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_boot_authorise_charge_stop_gives_exactly_one_session(version: str) -> None:
    async with central_system() as csms:
        async with charger(csms, version) as chg:
            await eventually(lambda: csms.value("chg-01/2/status").value == "Available")
            assert csms.value("chg-01/online").value is True and csms.value("chg-01/1/status").value == "Available"
            assert csms.value("chg-02/online").value is False                  # never connected
            assert csms.value("chg-02/1/status").reason == "comm-loss"

            assert not await chg.plug_in(2, "STOLEN01")                         # blocked
            assert not await chg.swipe("NOBODY99", 2)                           # not on the list
            assert await chg.plug_in(1, "rfid0001")                             # tags are case-insensitive
            await eventually(lambda: len(set(csms.history("chg-01/1/energy"))) >= 4)
            assert csms.value("chg-01/1/status").value == "Charging"
            transaction = csms.value("chg-01/1/transaction").value
            assert transaction and csms.value("chg-01/1/power").value > 5.0
            if version == "2.0.1":                                              # DC: the car's state of charge
                assert 20.0 <= csms.value("chg-01/1/soc").value < 30.0
            await chg.unplug(1)
            await eventually(lambda: len(csms.sessions) == 1 and not chg.outbox.pending())
            await asyncio.sleep(0.2)                                            # nothing more may come
            assert csms.value("chg-01/1/transaction").value == "" and csms.value("chg-01/1/power").value == 0.0
            assert csms.value("chg-01/2/transaction").value == ""              # the refused cards started nothing
        await eventually(lambda: csms.value("chg-01/online").value is False)
        assert csms.value("chg-01/1/energy").reason == "comm-loss"

    energies = csms.history("chg-01/1/energy")
    assert energies == sorted(energies) and energies[0] == START_WH / 1000
    [session] = csms.sessions
    register_wh = int(chg.model.connector(1).energy_wh)                    # the charger's meter now
    assert (session.charge_point, session.connector, session.id_tag) == ("chg-01", 1, "rfid0001")
    assert (session.transaction_id, session.stop_reason) == (transaction, "EVDisconnected")
    assert (session.meter_start_wh, session.meter_stop_wh) == (START_WH, register_wh)
    assert session.energy_kwh == round((register_wh - START_WH) / 1000, 3) > 0
    assert energies[-1] == register_wh / 1000                             # the metric ends on the stop reading
    assert session.stop_time > session.start_time
    assert csms.source.csms.core.stats.duplicates == 0


async def test_remote_start_and_remote_stop_from_our_side(version: str) -> None:
    async with central_system() as csms, charger(csms, version) as chg:
        await asyncio.wait_for(chg.wait_online(), 8)                       # booted: cards go to us
        with pytest.raises(DeviceUnavailable):
            await csms.source.remote_start("chg-02", 1, "APP00042")        # not connected
        assert await chg.plug_in(2)                                         # an EV waits, no card
        assert await csms.source.remote_start("chg-01", 2, "APP00042") == "Accepted"
        await eventually(lambda: len(set(csms.history("chg-01/2/energy"))) >= 3)
        assert await csms.source.remote_start("chg-01", 2, "APP00043") == "Rejected"   # busy
        assert await csms.source.remote_stop("chg-01", "999") == "Rejected"            # no such transaction
        transaction = csms.value("chg-01/2/transaction").value
        assert await csms.source.remote_stop("chg-01", transaction) == "Accepted"
        await eventually(lambda: len(csms.sessions) == 1)
    [session] = csms.sessions
    assert (session.connector, session.id_tag, session.stop_reason) == (2, "APP00042", "Remote")
    assert session.transaction_id == transaction and session.energy_kwh > 0


async def test_reconnect_mid_session_delivers_the_queue_and_counts_the_session_once(version: str) -> None:
    async with central_system() as csms, charger(csms, version) as chg:
        await asyncio.wait_for(chg.wait_online(), 8)                       # booted: cards go to us
        assert await chg.plug_in(1, "RFID0001")
        # nothing in flight: a cancel racing an answer can get lost in the simulator's link teardown (Python 3.11)
        await eventually(lambda: len(set(csms.history("chg-01/1/energy"))) >= 2 and not chg.outbox.pending())
        chg.faults.go_offline()
        await eventually(lambda: csms.value("chg-01/online").value is False)
        assert (csms.value("chg-01/1/energy").quality, csms.value("chg-01/1/energy").reason) == (Quality.BAD,
                                                                                                 "comm-loss")
        await eventually(lambda: chg.outbox.transactional_count() >= 3)   # samples pile up while away
        await chg.unplug(1)
        chg.faults.go_online()
        await eventually(lambda: len(csms.sessions) == 1 and not chg.outbox.pending())
        assert csms.value("chg-01/online").value is True
    [session] = csms.sessions
    assert session.meter_stop_wh == int(chg.model.connector(1).energy_wh)
    assert session.energy_kwh == round((session.meter_stop_wh - START_WH) / 1000, 3)
    energies = csms.history("chg-01/1/energy")
    assert energies == sorted(energies)                                    # the replay never moved it back


async def test_a_stop_in_flight_when_the_link_drops_is_counted_once(version: str) -> None:
    async with central_system() as csms, charger(csms, version) as chg:
        entered, release = asyncio.Event(), asyncio.Event()

        async def slow_record(session: ChargingSession) -> None:
            entered.set()
            await release.wait()              # the charger waits for its answer meanwhile
            csms.sessions.append(session)

        csms.source.on_session = slow_record
        await asyncio.wait_for(chg.wait_online(), 8)                       # booted: cards go to us
        assert await chg.plug_in(1, "RFID0001")
        await eventually(lambda: len(set(csms.history("chg-01/1/energy"))) >= 2)
        await chg.unplug(1)
        await asyncio.wait_for(entered.wait(), 5)
        chg.faults.go_offline()               # the stop is in flight, unanswered
        chg.faults.go_online()                # ...so the charger sends it again after reconnecting
        await eventually(lambda: chg.stats.connects == 2)
        release.set()
        await eventually(lambda: not chg.outbox.pending())
        await asyncio.sleep(0.2)
    assert len(csms.sessions) == 1
    assert csms.source.csms.core.stats.duplicates >= 1


async def test_garbage_from_the_charger_is_answered_and_the_link_survives(version: str) -> None:
    async with central_system() as csms, charger(csms, version) as chg:
        await asyncio.wait_for(chg.wait_online(), 8)                       # booted: cards go to us
        assert await chg.faults.send_garbage()
        await eventually(lambda: csms.source.csms.core.stats.bad_frames == 1)
        assert await chg.plug_in(1, "RFID0001")
        await eventually(lambda: csms.value("chg-01/1/status").value == "Charging")
    assert chg.stats.connects == 1


async def test_a_start_in_flight_when_the_link_drops_is_booked_once(version: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    async with central_system() as csms, charger(csms, version) as chg:
        core = csms.source.csms.core
        entered, release = asyncio.Event(), asyncio.Event()
        method = "start_16" if version == "1.6" else "transaction_event"
        book = getattr(core, method)

        async def held_first(*args: Any) -> Any:
            if not entered.is_set():          # the first start waits; the charger's retry queues behind it
                entered.set()
                await release.wait()
            return await book(*args)

        monkeypatch.setattr(core, method, held_first)
        await asyncio.wait_for(chg.wait_online(), 8)                       # booted: cards go to us
        assert await chg.plug_in(1, "RFID0001")
        await asyncio.wait_for(entered.wait(), 5)
        chg.faults.go_offline()               # the start is in flight, unanswered
        chg.faults.go_online()
        await eventually(lambda: chg.stats.connects == 2)
        await asyncio.sleep(0.1)              # the repeated start arrives and waits too
        release.set()
        await eventually(lambda: len(set(csms.history("chg-01/1/energy"))) >= 3)
        await chg.unplug(1)
        await eventually(lambda: len(csms.sessions) == 1 and not chg.outbox.pending())
    assert core.stats.duplicates >= 1
    assert len(core.ledger.open_transactions("chg-01")) == 0
    [session] = csms.sessions
    assert session.meter_start_wh == START_WH and session.energy_kwh > 0
