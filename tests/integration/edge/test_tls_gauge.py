"""The TLS device source against the real tank gauge simulator, over TCP and over a pseudo-terminal.

The simulator runs on a ``ManualClock``: the tanks move only when a test advances it, so what the
source reads can be compared with the model itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from edge_nodes.devices.tls import TlsDevice, TlsSource
from edge_nodes.metrics import REGISTRY
from edge_nodes.source import Snapshot
from simulators.clock import ManualClock
from simulators.tank_gauge import TankConfig, TankGaugeConfig, TankGaugeServer
from telemetry.contracts.quality import Quality

pytestmark = pytest.mark.integration

CONFIG = TankGaugeConfig(tcp_port=0, seed=7, tanks=(
    TankConfig(number=1, product_code="1", label="92#汽油", initial_volume_l=18000.0, delivery_settle_s=60.0),
    TankConfig(number=2, product_code="3", label="0#柴油", capacity_l=50000.0, diameter_mm=2800.0,
               initial_volume_l=30000.0, density_20=835.0, water_mm=35.0),   # above the 30 mm warning
))
FLOATS = {"volume": "volume_l", "tc_volume": "tc_volume_l", "ullage": "ullage_l", "height": "height_mm",
          "water": "water_mm", "temperature": "temperature_c", "water_volume": "water_volume_l"}


@pytest.fixture
async def gauge() -> AsyncIterator[TankGaugeServer]:
    clock = ManualClock()
    async with TankGaugeServer(CONFIG, clock, port=0, tick_s=0.05) as server:
        clock.advance(2.0)      # a couple of physics steps: alarms evaluated
        yield server


@pytest.fixture(params=["tcp", "serial"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_source(gauge: TankGaugeServer, transport: str, **options: Any) -> TlsSource:
    line: dict[str, Any] = ({"host": "127.0.0.1", "port": gauge.port} if transport == "tcp"
                            else {"serial_port": gauge.serial_path})
    settings: dict[str, Any] = {"timeout_s": 0.3, "poll_interval_s": 0.05, **line, **options}
    return TlsDevice(protocol="tls", code=f"atg-{uuid.uuid4().hex[:8]}", **settings).source()


def values(snapshot: Snapshot | None) -> dict[str, Any]:
    assert snapshot is not None and snapshot.available
    return {r.key: r.value for r in snapshot.readings}


def bad_frames(source: TlsSource) -> float:
    return REGISTRY.get_sample_value("forecourt_edge_bad_frames_total", {"device": source.code}) or 0.0


def assert_matches_model(gauge: TankGaugeServer, got: dict[str, Any], tank: int) -> None:
    reading = gauge.reading(tank)
    for name, field in FLOATS.items():
        assert got[f"tank{tank}/{name}"] == pytest.approx(getattr(reading, field), rel=1e-6, abs=1e-3), name


async def test_values_match_the_simulator_model(gauge: TankGaugeServer, transport: str) -> None:
    source = make_source(gauge, transport)          # no tanks listed: found from i20100
    try:
        got = values(await source.poll_once())
        assert source.tanks == (1, 2)
        assert set(got) == set(source.metrics) and len(got) == 24
        assert_matches_model(gauge, got, 1)
        assert_matches_model(gauge, got, 2)
        assert got["tank2/water"] == pytest.approx(35.0, abs=1.0)
        assert got["tank1/alarms"] == "" and got["tank2/alarms"] == "high-water-warning"
        assert got["tank1/delivery_in_progress"] is False and got["tank1/leak_test_in_progress"] is False
        assert got["tank1/last_delivery_end"] is None

        gauge.draw(1, 500.0)                         # a sale: the next poll sees it
        got = values(await source.poll_once())
        assert got["tank1/volume"] == pytest.approx(17500.0, abs=2.0)
        assert_matches_model(gauge, got, 1)
        assert bad_frames(source) == 0
    finally:
        source.connection.close()


async def test_a_delivery_shows_in_progress_then_a_new_last_delivery(gauge: TankGaugeServer, transport: str) -> None:
    source = make_source(gauge, transport, tanks=[1, 2])
    try:
        await source.poll_once()
        gauge.start_delivery(1, 3000.0, 20.0, 1000.0)
        before = gauge.counters["commands"]
        got = values(await source.poll_once())
        assert got["tank1/delivery_in_progress"] is True and got["tank2/delivery_in_progress"] is False
        assert got["tank1/last_delivery_end"] is None
        assert gauge.counters["commands"] - before == 2        # i201 + i205: no delivery report yet

        gauge.clock.advance(400.0)      # type: ignore[attr-defined]   # 3 min of flow, 60 s to settle
        before = gauge.counters["commands"]
        got = values(await source.poll_once())
        assert gauge.counters["commands"] - before == 3        # the bit fell: i202 asked at once
        record = gauge.tank(1).deliveries[0]
        assert got["tank1/delivery_in_progress"] is False
        assert got["tank1/last_delivery_end"] == int(record.end.timestamp()) // 60 * 60   # the wire has minutes
        assert got["tank1/last_delivery_volume"] == pytest.approx(record.volume_l, abs=0.02)
        assert got["tank1/last_delivery_volume"] == pytest.approx(3000.0, abs=5.0)
        assert got["tank2/last_delivery_end"] is None
    finally:
        source.connection.close()


@pytest.mark.parametrize("fault", ["garbage", "truncate", "corrupt_checksum"])
async def test_a_bad_answer_is_a_counted_skip_and_the_next_one_comes_through(
        gauge: TankGaugeServer, transport: str, fault: str) -> None:
    source = make_source(gauge, transport, tanks=[1, 2])
    try:
        values(await source.poll_once())
        spoil: Callable[[int], None] = getattr(gauge.faults, fault)
        spoil(1)
        assert await source.poll_once() is None           # skipped: the last values stand
        assert bad_frames(source) >= 1
        got = values(await source.poll_once())
        assert_matches_model(gauge, got, 1)
        assert source.bad_polls == 0
    finally:
        source.connection.close()


async def test_bad_answers_in_a_row_make_the_values_bad_then_good_again(gauge: TankGaugeServer,
                                                                          transport: str) -> None:
    source = make_source(gauge, transport, tanks=[1])
    try:
        gauge.faults.corrupt_checksum(3)
        assert await source.poll_once() is None
        assert await source.poll_once() is None
        snapshot = await source.poll_once()
        assert snapshot is not None and not snapshot.available and snapshot.reason == "bad-frame"
        assert {(r.quality, r.reason) for r in snapshot.readings} == {(Quality.BAD, "bad-frame")}
        assert bad_frames(source) == 3
        assert_matches_model(gauge, values(await source.poll_once()), 1)
    finally:
        source.connection.close()


async def test_probe_out_is_a_sensor_fault_of_that_tank_only(gauge: TankGaugeServer, transport: str) -> None:
    source = make_source(gauge, transport, tanks=[1, 2])
    try:
        gauge.faults.probe_out(2)
        gauge.clock.advance(1.0)        # type: ignore[attr-defined]   # alarms follow at the next step
        snapshot = await source.poll_once()
        assert snapshot is not None
        by_key = {r.key: r for r in snapshot.readings}
        assert (by_key["tank2/volume"].quality, by_key["tank2/volume"].reason) == (Quality.BAD, "sensor-fault")
        assert by_key["tank2/height"].value is None
        assert "probe-out" in str(by_key["tank2/alarms"].value).split(",")
        assert by_key["tank1/volume"].quality is Quality.GOOD
        gauge.faults.probe_out(2, on=False)
        assert values(await source.poll_once())["tank2/volume"] == pytest.approx(30000.0, abs=20.0)
    finally:
        source.connection.close()


async def test_offline_gauge_goes_bad_and_comes_back_without_a_restart(gauge: TankGaugeServer,
                                                                        transport: str) -> None:
    source = make_source(gauge, transport, tanks=[1, 2])
    seen: list[Snapshot] = []

    async def emit(snapshot: Snapshot) -> None:
        seen.append(snapshot)

    async def until(predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not predicate():
                await asyncio.sleep(0.02)

    task = asyncio.create_task(source.run(emit))
    try:
        await until(lambda: any(s.available for s in seen))
        gauge.faults.offline()
        await until(lambda: not seen[-1].available)
        lost = seen[-1]
        assert lost.reason == "comm-loss"
        assert {(r.quality, r.reason) for r in lost.readings} == {(Quality.BAD, "comm-loss")}
        assert len(lost.readings) == 24
        outage = len(seen)
        gauge.faults.offline(False)
        gauge.draw(1, 1000.0)
        await until(lambda: len(seen) > outage and seen[-1].available)
        assert_matches_model(gauge, values(seen[-1]), 1)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_late_answer_is_not_taken_for_the_next_one(gauge: TankGaugeServer) -> None:
    source = make_source(gauge, "tcp", tanks=[1])
    try:
        gauge.faults.slow(0.5)                       # answers start after the 0.3 s timeout
        snapshot = await source.poll_once()
        assert snapshot is not None and snapshot.reason == "comm-loss"
        gauge.faults.slow(0)
        gauge.draw(1, 2000.0)
        assert_matches_model(gauge, values(await source.poll_once()), 1)
    finally:
        source.connection.close()


async def test_security_code_and_unknown_tanks(transport: str) -> None:
    config = CONFIG.model_copy(update={"security_code": "ABC123"})
    async with TankGaugeServer(config, ManualClock(), port=0) as gauge:
        right = make_source(gauge, transport, tanks=[1, 7], security_code="ABC123")
        try:
            by_key = {r.key: r for r in (await right.poll_once() or Snapshot("", (), False)).readings}
            assert by_key["tank1/volume"].quality is Quality.GOOD
            assert (by_key["tank7/volume"].quality, by_key["tank7/volume"].reason) == (Quality.BAD, "device-error")
        finally:
            right.connection.close()
        wrong = make_source(gauge, transport, tanks=[1], security_code="XYZ789")
        try:
            snapshot = await wrong.poll_once()
            assert snapshot is not None and not snapshot.available and snapshot.reason == "device-error"
            assert gauge.counters["unknown"] >= 1
        finally:
            wrong.connection.close()
