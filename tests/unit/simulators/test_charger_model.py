"""Charger physics and connector state on a ManualClock: energy, taper, sessions, faults."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from simulators.charger.config import ChargerConfig, ConnectorConfig, EvProfile
from simulators.charger.events import (
    ChargerEvent,
    ConnectorStatus,
    ErrorCode,
    MeterSampled,
    StartTrigger,
    StatusChanged,
    StopReason,
    TransactionStarted,
    TransactionStopped,
)
from simulators.charger.model import ChargerError, ChargerModel
from simulators.charger.power import PROFILES, charging_point, taper_fraction
from simulators.clock import ManualClock


class Rig:
    """A model and the clock it is stepped on, collecting every event."""

    def __init__(self, **overrides: Any) -> None:
        values: dict[str, Any] = {"connectors": [ConnectorConfig(connector_id=1, meter_start_wh=125_000)]}
        self.config = ChargerConfig(**{**values, **overrides})
        self.clock = ManualClock()
        self.model = ChargerModel(self.config, random.Random(self.config.seed), self.clock.now())
        self.events: list[ChargerEvent] = []

    def run(self, seconds: float, step: float = 1.0) -> None:
        while seconds > 1e-9:
            dt = min(step, seconds)
            self.clock.advance(dt)
            self.model.advance(dt)
            seconds -= dt
        self.drain()

    def drain(self) -> list[ChargerEvent]:
        new = self.model.drain_events()
        self.events += new
        return new

    def statuses(self) -> list[ConnectorStatus]:
        return [e.status for e in self.events if isinstance(e, StatusChanged)]

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def energy_wh(self) -> int:
        return self.model.reading(1).energy_wh


def test_ac7_delivers_about_seven_kwh_in_an_hour_with_60_samples() -> None:
    rig = Rig(profile="ac7", meter_interval_s=60)
    rig.model.plug_in(1, EvProfile(battery_kwh=60, start_soc_pct=20))
    rig.model.authorize(1, "RFID0001")
    rig.run(3600, step=7.0)  # coarse steps: the model sub-steps and lands on sample instants
    delivered_kwh = (rig.energy_wh() - 125_000) / 1000
    assert 6.9 < delivered_kwh < 7.2  # 220 V x 32 A = 7.04 kW
    samples = rig.of(MeterSampled)
    assert len(samples) == 60
    assert {(b.reading.timestamp - a.reading.timestamp).total_seconds() for a, b in itertools.pairwise(samples)} == {
        60.0
    }
    assert all(31.0 < s.reading.current_a <= 32.0 and s.reading.soc_pct is None for s in samples)
    soc = rig.model.connector(1).ev
    assert soc is not None and soc.soc_pct == pytest.approx(20 + delivered_kwh * 0.93 / 60 * 100, abs=0.01)


def test_energy_register_is_monotonic_across_sessions() -> None:
    rig = Rig(profile="dc60", meter_interval_s=10)
    readings = [rig.energy_wh()]
    for tag in ("A", "B"):
        rig.model.plug_in(1, EvProfile(start_soc_pct=10))
        rig.model.authorize(1, tag)
        for _ in range(30):
            rig.run(20, step=3.3)
            readings.append(rig.energy_wh())
        rig.model.unplug(1)
        rig.run(60)
        readings.append(rig.energy_wh())
    assert readings == sorted(readings) and readings[-1] > readings[0]
    starts, stops = rig.of(TransactionStarted), rig.of(TransactionStopped)
    assert stops[0].reading.energy_wh == starts[1].reading.energy_wh  # nothing metered between sessions
    sampled = [s.reading.energy_wh for s in rig.of(MeterSampled)]
    assert sampled == sorted(sampled)


def test_dc_power_tapers_as_the_soc_rises() -> None:
    profile, ev = PROFILES["dc120"], EvProfile(battery_kwh=80)
    at_30 = charging_point(profile, ev, 30.0, 220.0)
    at_85 = charging_point(profile, ev, 85.0, 220.0)
    assert at_30.power_kw > 100.0 and at_85.power_kw < 0.6 * at_30.power_kw
    assert taper_fraction(profile, 100.0) == pytest.approx(profile.taper_end_fraction)
    assert at_85.voltage_v > at_30.voltage_v  # pack voltage follows the SoC

    rig = Rig(profile="dc120", meter_interval_s=60)
    rig.model.plug_in(1, EvProfile(battery_kwh=80, start_soc_pct=20, target_soc_pct=95))
    rig.model.authorize(1, "RFID0001")
    rig.run(3 * 3600, step=10.0)
    powers = [(s.reading.soc_pct, s.reading.power_kw) for s in rig.of(MeterSampled)]
    early = [p for soc, p in powers if soc is not None and soc < 50]
    late = [p for soc, p in powers if soc is not None and soc > 85]
    assert min(early) > 100.0 and max(late) < 0.6 * min(early)


def test_full_ev_suspends_then_ends_the_transaction() -> None:
    rig = Rig(profile="dc60", meter_interval_s=30)
    rig.model.plug_in(1, EvProfile(battery_kwh=40, start_soc_pct=70, target_soc_pct=80))
    rig.model.authorize(1, "RFID0001")
    rig.run(3600, step=5.0)
    (stop,) = rig.of(TransactionStopped)
    assert stop.reason is StopReason.EV_FULL and stop.ev_connected
    assert stop.reading.soc_pct == pytest.approx(80.0)
    assert rig.statuses() == [
        ConnectorStatus.PREPARING,
        ConnectorStatus.CHARGING,
        ConnectorStatus.SUSPENDED_EV,
        ConnectorStatus.FINISHING,
    ]
    assert not rig.model.can_authorize(1)  # Finishing: the next driver must unplug first
    before = rig.energy_wh()
    rig.run(600)
    assert rig.energy_wh() == before
    rig.model.unplug(1)
    rig.drain()
    assert rig.statuses()[-1] is ConnectorStatus.AVAILABLE


def test_full_ev_stays_suspended_when_configured() -> None:
    rig = Rig(profile="ac7", ev_full_action="suspend")
    rig.model.plug_in(1, EvProfile(battery_kwh=10, start_soc_pct=95, target_soc_pct=96))
    rig.model.authorize(1, "RFID0001")
    rig.run(3600, step=10.0)
    assert rig.of(TransactionStopped) == []
    assert rig.statuses()[-1] is ConnectorStatus.SUSPENDED_EV
    assert rig.model.reading(1).power_kw == 0.0
    rig.model.unplug(1)
    rig.drain()
    assert rig.of(TransactionStopped)[0].reason is StopReason.EV_DISCONNECTED


def test_connector_fault_stops_the_transaction_and_reports_the_error() -> None:
    rig = Rig(profile="ac7")
    rig.model.plug_in(1, EvProfile())
    rig.model.authorize(1, "RFID0001")
    rig.run(120)
    rig.model.inject_fault(1, ErrorCode.GROUND_FAILURE, "RCD tripped")
    rig.drain()
    faulted = rig.of(StatusChanged)[-1]
    assert (faulted.status, faulted.error_code, faulted.info) == (
        ConnectorStatus.FAULTED,
        ErrorCode.GROUND_FAILURE,
        "RCD tripped",
    )
    stop = rig.of(TransactionStopped)[0]
    assert (stop.reason, stop.error_code) == (StopReason.FAULT, ErrorCode.GROUND_FAILURE)
    energy = rig.energy_wh()
    rig.run(300)
    assert rig.energy_wh() == energy and not rig.model.can_authorize(1)
    with pytest.raises(ChargerError):
        rig.model.authorize(1, "RFID0002")
    rig.model.clear_fault(1)
    rig.drain()
    assert rig.of(StatusChanged)[-1].error_code is ErrorCode.NO_ERROR
    assert rig.statuses()[-1] is ConnectorStatus.FINISHING


def test_authorised_without_ev_times_out_and_plug_later_starts() -> None:
    rig = Rig(connection_timeout_s=30)
    session = rig.model.authorize(1, "RFID0001")
    rig.drain()
    assert rig.statuses() == [ConnectorStatus.PREPARING] and not session.started
    rig.run(31)
    assert rig.statuses()[-1] is ConnectorStatus.AVAILABLE and rig.of(TransactionStarted) == []

    rig.model.authorize(1, "RFID0001", trigger=StartTrigger.REMOTE_START, remote_start_id=5)
    rig.run(10)
    rig.model.plug_in(1, EvProfile())
    rig.drain()
    (start,) = rig.of(TransactionStarted)
    assert (start.trigger, start.remote_start_id) == (StartTrigger.CABLE_PLUGGED_IN, 5)


def test_power_loss_ends_transactions_silently_and_power_on_reports() -> None:
    rig = Rig()
    rig.model.plug_in(1, EvProfile())
    rig.model.authorize(1, "RFID0001")
    rig.run(60)
    rig.model.power_off()
    new = rig.drain()
    assert [type(e) for e in new] == [TransactionStopped]
    assert isinstance(new[0], TransactionStopped) and new[0].reason is StopReason.POWER_LOSS
    rig.run(60)
    assert rig.model.reading(1).voltage_v == 0.0 and rig.drain() == []
    rig.model.power_on()
    assert [e.status for e in rig.drain() if isinstance(e, StatusChanged)] == [ConnectorStatus.FINISHING]


def test_same_seed_same_run() -> None:
    def run(seed: int) -> tuple[int, str]:
        rig = Rig(profile="ac7", seed=seed)
        rig.model.plug_in(1, EvProfile())
        session = rig.model.authorize(1, "RFID0001")
        rig.run(900)
        return rig.energy_wh(), session.transaction_ref

    assert run(3) == run(3)
    assert run(3)[1] != run(4)[1]


def test_plug_errors_are_charger_errors() -> None:
    rig = Rig()
    with pytest.raises(ChargerError):
        rig.model.unplug(1)
    rig.model.plug_in(1, EvProfile())
    with pytest.raises(ChargerError):
        rig.model.plug_in(1, EvProfile())
    with pytest.raises(ChargerError):
        rig.model.connector(9)
