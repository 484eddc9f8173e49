"""The OPC UA device source against the gas skid simulator: browse, subscriptions, deadband, calls and
writes, a failed sensor, and the server going away and coming back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from asyncua.server.server import Server

from edge_nodes.devices.opcua import OpcUaDevice, OpcUaSource
from edge_nodes.source import Snapshot
from protocol_adapters.opcua.client import Refused
from protocol_adapters.readings import DeviceUnavailable, Reading
from simulators.clock import SimClock
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.server import GasSkidServer
from telemetry.contracts.quality import Quality

pytestmark = pytest.mark.integration

SPEED = 30.0        # simulated seconds per real second
HEARTBEAT = {"key": "skid/time", "browse_path": "GasSkid/SimulatedTime", "datatype": "DateTime"}


class Seen:
    """Every snapshot the source emitted, in order."""

    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []

    async def __call__(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)

    def readings(self, key: str, since: int = 0) -> list[Reading]:
        return [r for s in self.snapshots[since:] for r in s.readings if r.key == key]

    def latest(self, key: str) -> Reading | None:
        found = self.readings(key)
        return found[-1] if found else None

    def good(self, key: str, since: int = 0) -> list[object]:
        return [r.value for r in self.readings(key, since) if r.quality is Quality.GOOD]

    async def until(self, predicate: Callable[[], bool], within_s: float = 10.0) -> None:
        async with asyncio.timeout(within_s):
            while not predicate():
                await asyncio.sleep(0.02)


@pytest.fixture
async def skid() -> AsyncIterator[GasSkidServer]:
    async with GasSkidServer(GasSkidConfig(), SimClock(SPEED), port=0, publish_interval_s=0.05) as server:
        yield server


@contextlib.asynccontextmanager
async def running(endpoint: str, **settings: object) -> AsyncIterator[tuple[OpcUaSource, Seen]]:
    entry = {"protocol": "opcua", "code": "skid-01", "endpoint": endpoint, "publishing_interval_ms": 50,
             "timeout_s": 1.0, "reconnect_s": 0.1, **settings}
    source = OpcUaDevice.model_validate(entry).source()
    seen = Seen()
    task = asyncio.create_task(source.run(seen))
    try:
        await seen.until(lambda: all(seen.latest(k) is not None for k in source.metrics))
        yield source, seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def skid_source(skid: GasSkidServer, **settings: object) -> contextlib.AbstractAsyncContextManager[
        tuple[OpcUaSource, Seen]]:
    return running(skid.endpoint, **{"profile": "gas-skid-v1", "nodes": [HEARTBEAT], **settings})


async def test_every_profile_node_resolves_with_its_type(skid: GasSkidServer) -> None:
    async with skid_source(skid) as (source, seen):
        assert len(source.metrics) > 100
        bad = [k for k in source.metrics if seen.latest(k).quality is not Quality.GOOD]
        assert bad == []
        assert seen.latest("cascade/high/pressure").value == pytest.approx(24.0)
        assert seen.latest("cng2/price").value == 450
        assert seen.latest("compressor/state_name").value == "stopped"
        assert seen.latest("lng_tank/vent_valve_open").value is False
        assert isinstance(seen.latest("skid/time").value, int)
        assert (await source.read("cng1/target_pressure")).value == pytest.approx(20.0)


async def test_a_fill_started_by_a_call_streams_mass_and_bank_switches(skid: GasSkidServer) -> None:
    async with skid_source(skid) as (source, seen):
        start = len(seen.snapshots)
        assert await source.call("GasSkid/CngDispenser1/StartFill", 0) == [1]   # int 0 sent as the declared Double
        await seen.until(lambda: seen.latest("cng1/state_name").value == "complete", within_s=20)
        masses = seen.good("cng1/mass", start)
        assert len(masses) > 10 and masses == sorted(masses) and masses[-1] > 5.0
        names = seen.good("cng1/active_bank_name", start)
        banks = [b for i, b in enumerate(names) if i == 0 or b != names[i - 1]]
        assert banks[:3] == ["low", "mid", "high"]
        amounts = seen.good("cng1/amount", start)
        assert amounts == sorted(amounts) and amounts[-1] > 0
        assert seen.latest("cng1/transaction").value == 1
        assert seen.latest("cng1/stop_reason").value == "target_pressure"
        assert seen.latest("cng2/mass").value == 0.0


async def test_refused_writes_and_calls_come_back_with_the_status(skid: GasSkidServer) -> None:
    async with skid_source(skid) as (source, seen):
        with pytest.raises(Refused) as not_writable:
            await source.write("cng2/mass", 1.0)
        assert not_writable.value.status == "BadNotWritable" and not_writable.value.reason == "device-error"
        with pytest.raises(Refused) as out_of_range:
            await source.call("GasSkid/CngDispenser2/StartFill", -1.0)
        assert out_of_range.value.status == "BadOutOfRange"
        with pytest.raises(ValueError, match="is not a Int32"):
            await source.write("cng2/price", 4.8)          # refused before it is sent
        await source.write("cng2/price", 488)
        await seen.until(lambda: seen.latest("cng2/price").value == 488)
        assert await source.call("GasSkid/CngDispenser2/StartFill", 0.0) == [1]
        with pytest.raises(Refused) as during_fill:
            await source.write("cng2/price", 500)
        assert during_fill.value.status == "BadInvalidState"
        with pytest.raises(Refused, match="BadInvalidState"):
            await source.call("GasSkid/CngDispenser2/StartFill", 0.0)
        with pytest.raises(Refused, match="BadNoMatch"):
            await source.call("GasSkid/CngDispenser2/Explode")
        await seen.until(lambda: str(seen.latest("skid/last_refusal").value).startswith("invalid_state"))
        await source.call("GasSkid/CngDispenser2/Stop")
        await seen.until(lambda: seen.latest("cng2/stop_reason").value == "operator_stop")
        assert skid.model.cng(2).price_fen_per_kg == 488


async def test_deadband_suppresses_small_changes(skid: GasSkidServer) -> None:
    every_change = {"key": "compressor/start_pressure_raw", "browse_path": "GasSkid/Compressor1/StartPressure_MPa_g",
                    "unit": "MPa_g"}
    async with skid_source(skid, nodes=[HEARTBEAT, every_change],
                           deadbands={"compressor/start_pressure": 1.0}) as (source, seen):
        start = len(seen.snapshots)
        for setpoint in (20.5, 22.0, 21.5, 23.0):   # steps of 0.5, 1.5, 0.5, 1.5 MPa
            await source.write("compressor/start_pressure", setpoint)
            await seen.until(lambda s=setpoint: seen.good("compressor/start_pressure_raw")[-1] == s)
        await asyncio.sleep(0.3)  # let any late notification in
        assert seen.good("compressor/start_pressure_raw", start) == [20.5, 22.0, 21.5, 23.0]
        assert seen.good("compressor/start_pressure", start) == [22.0, 23.0]


async def test_a_failed_sensor_is_bad_with_sensor_fault(skid: GasSkidServer) -> None:
    async with skid_source(skid) as (_source, seen):
        skid.faults.sensor_failure("cascade.high")
        await seen.until(lambda: seen.latest("cascade/high/pressure").quality is Quality.BAD)
        failed = seen.latest("cascade/high/pressure")
        assert failed is not None and (failed.value, failed.reason) == (None, "sensor-fault")
        assert seen.latest("cascade/low/pressure").quality is Quality.GOOD
        skid.faults.repair_sensor("cascade.high")
        await seen.until(lambda: seen.latest("cascade/high/pressure").quality is Quality.GOOD)
        assert seen.latest("cascade/high/pressure").value == pytest.approx(24.0)


async def test_server_away_means_comm_loss_then_subscriptions_come_back(skid: GasSkidServer) -> None:
    async with skid_source(skid) as (source, seen):
        await source.call("GasSkid/CngDispenser1/StartFill", 0.0)
        await skid.go_offline()
        await seen.until(lambda: not seen.snapshots[-1].available)
        lost = seen.snapshots[-1]
        assert lost.reason == "comm-loss" and {r.key for r in lost.readings} == set(source.metrics)
        assert all((r.quality, r.reason, r.value) == (Quality.BAD, "comm-loss", None) for r in lost.readings)
        assert not source.connected
        with pytest.raises(DeviceUnavailable):
            await source.write("cng2/price", 470)

        back = len(seen.snapshots)
        await skid.go_online()          # the same source, never restarted
        await seen.until(lambda: len(set(seen.good("skid/time", back))) >= 3)   # fresh changes keep arriving
        assert source.connected
        assert seen.latest("cng1/mass").quality is Quality.GOOD
        assert seen.latest("cng1/transaction").value == 1
        await source.write("cng2/price", 470)
        await seen.until(lambda: seen.latest("cng2/price").value == 470)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_namespace_is_looked_up_by_uri_and_missing_nodes_are_bad() -> None:
    server = Server()
    await server.init()
    server.disable_clock()      # so that stopping it does not wait for the clock's second
    endpoint = f"opc.tcp://127.0.0.1:{_free_port()}/other-plc/"
    server.set_endpoint(endpoint)
    decoy = await server.register_namespace("urn:example:first")          # takes index 2
    ns = await server.register_namespace("urn:forecourt:gas-skid")        # so the skid's is 3
    for index, mass in ((decoy, 99.0), (ns, 12.5)):
        skid = await server.nodes.objects.add_object(index, "GasSkid")
        dispenser = await skid.add_object(index, "CngDispenser1")
        await dispenser.add_variable(index, "Mass_kg", mass)
    nodes = [{"key": "cng1/mass", "browse_path": "GasSkid/CngDispenser1/Mass_kg", "unit": "kg"},
             {"key": "cng1/nope", "browse_path": "GasSkid/CngDispenser1/Nope_kg", "unit": "kg"}]
    async with server, running(endpoint, nodes=nodes, namespace_uri="urn:forecourt:gas-skid") as (source, seen):
        assert seen.latest("cng1/mass").value == 12.5
        missing = seen.latest("cng1/nope")
        assert missing is not None and (missing.quality, missing.reason) == (Quality.BAD, "device-error")
        with pytest.raises(Refused, match="BadNoMatch"):
            await source.write("cng1/nope", 1.0)
