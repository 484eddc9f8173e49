"""OCPP meter values, timestamps, 2.0.1 status words and bad-frame answers: pure tables, both versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol_adapters.ocpp.codec import (
    OcppVersion,
    PayloadError,
    connector_status_201,
    frame_error_code,
    message_id,
    parse_meter_value,
    parse_meter_values,
    parse_timestamp,
)

V16, V201 = OcppVersion.V16, OcppVersion.V201
T0 = "2026-01-01T08:00:05.000Z"


def mv16(*sampled: dict[str, Any], timestamp: str = T0) -> dict[str, Any]:
    return {"timestamp": timestamp, "sampled_value": list(sampled)}


def sv201(measurand: str, value: Any, unit: str | None = None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"measurand": measurand, "value": value, **extra}
    if unit is not None:
        entry["unit_of_measure"] = {"unit": unit}
    return entry


@pytest.mark.parametrize(("sampled", "energy_wh", "power_kw", "soc"), [
    # the simulator's 1.6 periodic sample (strings, Wh / kW)
    ([{"measurand": "Energy.Active.Import.Register", "unit": "Wh", "value": "125009"},
      {"measurand": "Power.Active.Import", "unit": "kW", "value": "7.02"},
      {"measurand": "Current.Import", "unit": "A", "value": "31.9", "phase": "L1"}], 125009.0, 7.02, None),
    # kWh register and W power
    ([{"measurand": "Energy.Active.Import.Register", "unit": "kWh", "value": "125.5"},
      {"measurand": "Power.Active.Import", "unit": "W", "value": "7020"}], 125500.0, 7.02, None),
    # no measurand = the energy register, no unit = Wh (OCPP 1.6 defaults)
    ([{"value": "42"}], 42.0, None, None),
    # DC with state of charge
    ([{"value": "1000", "unit": "Wh"}, {"measurand": "SoC", "unit": "Percent", "value": "43", "location": "EV"}],
     1000.0, None, 43.0),
    # three phases and no total: summed
    ([{"measurand": "Power.Active.Import", "unit": "kW", "value": "3.5", "phase": "L1"},
      {"measurand": "Power.Active.Import", "unit": "kW", "value": "3.5", "phase": "L2"},
      {"measurand": "Power.Active.Import", "unit": "kW", "value": "4.0", "phase": "L3"}], None, 11.0, None),
    # a total beside phases wins
    ([{"measurand": "Power.Active.Import", "unit": "kW", "value": "11.1"},
      {"measurand": "Power.Active.Import", "unit": "kW", "value": "3.5", "phase": "L1"}], None, 11.1, None),
    # signed meter data is opaque: skipped
    ([{"value": "AbCd==", "format": "SignedData"}, {"value": "7", "format": "Raw"}], 7.0, None, None),
])
def test_meter_values_16(sampled: list[dict[str, Any]], energy_wh: float | None, power_kw: float | None,
                         soc: float | None) -> None:
    sample = parse_meter_value(mv16(*sampled), V16)
    assert (sample.energy_wh, sample.power_kw, sample.soc_pct) == (energy_wh, power_kw, soc)
    assert sample.timestamp == datetime(2026, 1, 1, 8, 0, 5, tzinfo=UTC)
    assert sample.problems == ()


@pytest.mark.parametrize(("sampled", "energy_wh", "power_kw", "soc"), [
    ([sv201("Energy.Active.Import.Register", 125009.0, "Wh"), sv201("Power.Active.Import", 118.4, "kW"),
      sv201("SoC", 43.2, "Percent")], 125009.0, 118.4, 43.2),
    ([sv201("Energy.Active.Import.Register", 125.5, "kWh")], 125500.0, None, None),
    ([sv201("Energy.Active.Import.Register", 125)], 125.0, None, None),          # unit defaults to Wh
    ([{"measurand": "Energy.Active.Import.Register", "value": 1255,
       "unit_of_measure": {"unit": "Wh", "multiplier": 2}}], 125500.0, None, None),  # value × 10^multiplier
    ([sv201("Power.Active.Import", 7020, "W")], None, 7.02, None),
])
def test_meter_values_201(sampled: list[dict[str, Any]], energy_wh: float | None, power_kw: float | None,
                          soc: float | None) -> None:
    sample = parse_meter_value({"timestamp": T0, "sampled_value": sampled}, V201)
    assert sample.energy_wh == (pytest.approx(energy_wh) if energy_wh is not None else None)
    assert sample.power_kw == (pytest.approx(power_kw) if power_kw is not None else None)
    assert sample.soc_pct == soc
    assert sample.problems == ()


@pytest.mark.parametrize(("version", "sampled", "problem"), [
    (V16, {"value": 125009}, "must be a string"),                       # 1.6 carries strings
    (V201, sv201("Energy.Active.Import.Register", "125009", "Wh"), "must be a number"),  # 2.0.1 numbers
    (V16, {"value": "12,5"}, "not a number"),
    (V16, {"value": "nan"}, "finite"),
    (V16, {"value": "5", "unit": "MWh"}, "unit 'MWh'"),
    (V201, sv201("Energy.Active.Import.Register", True, "Wh"), "must be a number"),
    # checked after scaling: an energy register is never negative, never absurd, never inf
    (V16, {"value": "-5000", "unit": "Wh"}, "outside 0 to"),
    (V201, sv201("Energy.Active.Import.Register", -0.5, "kWh"), "outside 0 to"),
    (V16, {"value": "1e308", "unit": "kWh"}, "not a finite number after scaling"),
    (V16, {"value": "2e8", "unit": "kWh"}, "outside 0 to"),                        # 200 GWh on one charger
    (V201, {"measurand": "Energy.Active.Import.Register", "value": 5,
            "unit_of_measure": {"unit": "Wh", "multiplier": 400}}, "out of range"),
])
def test_a_bad_value_is_named_and_the_good_ones_beside_it_kept(version: OcppVersion, sampled: dict[str, Any],
                                                                 problem: str) -> None:
    soc = {"measurand": "SoC", "value": "50" if version is V16 else 50.0}
    if version is V201:
        soc["unit_of_measure"] = {"unit": "Percent"}
    sample = parse_meter_value({"timestamp": T0, "sampled_value": [sampled, soc]}, version)
    assert sample.energy_wh is None and sample.soc_pct == 50.0
    assert len(sample.problems) == 1 and problem in sample.problems[0]


@pytest.mark.parametrize(("sampled", "problem"), [
    ({"measurand": "SoC", "unit": "Percent", "value": "150"}, "SoC: 150 is outside 0 to 100"),
    ({"measurand": "Power.Active.Import", "unit": "kW", "value": "1e306"}, "Power.Active.Import: 1e+306 is outside"),
    ({"measurand": "Power.Active.Import", "unit": "W", "value": "-1e309"}, "not a finite number"),
])
def test_power_and_soc_out_of_range_are_left_out(sampled: dict[str, Any], problem: str) -> None:
    sample = parse_meter_value(mv16(sampled, {"value": "125009"}), V16)
    assert (sample.energy_wh, sample.power_kw, sample.soc_pct) == (125009.0, None, None)
    assert len(sample.problems) == 1 and problem in sample.problems[0]


def test_entries_sorted_oldest_first_and_bad_timestamps_dropped() -> None:
    entries = [mv16({"value": "2"}, timestamp="2026-01-01T08:00:10Z"), mv16({"value": "x"}, timestamp="yesterday"),
               mv16({"value": "1"}, timestamp="2026-01-01T08:00:05Z")]
    samples = parse_meter_values(entries, V16)
    assert [s.energy_wh for s in samples] == [1.0, 2.0]
    assert parse_meter_values(None, V16) == []


def test_context_is_kept() -> None:
    sample = parse_meter_value(mv16({"value": "5", "context": "Transaction.Begin"}), V16)
    assert sample.context == "Transaction.Begin"


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-01T08:00:05.000Z", datetime(2026, 1, 1, 8, 0, 5, tzinfo=UTC)),
    ("2026-01-01T16:00:05+08:00", datetime(2026, 1, 1, 8, 0, 5, tzinfo=UTC)),
    ("2026-01-01T08:00:05", datetime(2026, 1, 1, 8, 0, 5, tzinfo=UTC)),   # no zone: UTC
])
def test_timestamps(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["", "not a time", None, 1767254405])
def test_bad_timestamps(text: object) -> None:
    with pytest.raises(PayloadError):
        parse_timestamp(text)


@pytest.mark.parametrize(("connector_status", "charging_state", "in_tx", "ended_with_ev", "expected"), [
    ("Available", None, False, False, "Available"),
    ("Faulted", None, False, False, "Faulted"),
    ("Occupied", None, False, False, "Preparing"),           # plugged in, not authorised yet
    ("Occupied", "Charging", True, False, "Charging"),
    ("Occupied", "SuspendedEV", True, False, "SuspendedEV"),
    ("Occupied", "EVConnected", True, False, "Preparing"),
    ("Occupied", None, False, True, "Finishing"),            # transaction over, EV still plugged in
    (None, None, False, False, None),
])
def test_status_201_in_16_words(connector_status: str | None, charging_state: str | None, in_tx: bool,
                                ended_with_ev: bool, expected: str | None) -> None:
    assert connector_status_201(connector_status, charging_state, in_transaction=in_tx,
                                ended_with_ev=ended_with_ev) == expected


@pytest.mark.parametrize(("frame", "version", "code"), [
    ("\x02\xff garbage, not OCPP-J \x03", V16, "FormationViolation"),
    ("\x02\xff garbage, not OCPP-J \x03", V201, "RpcFrameworkError"),
    ('{"not": "a list"}', V201, "RpcFrameworkError"),
    ('[7, "abc", "Heartbeat", {}]', V201, "MessageTypeNotSupported"),
    ("[2]", V201, "RpcFrameworkError"),
])
def test_frame_error_codes(frame: str, version: OcppVersion, code: str) -> None:
    assert frame_error_code(frame, version) == code


@pytest.mark.parametrize(("frame", "expected"), [
    ('[2, "abc", "X", {}]', "abc"), ('[2, 17, "X", {}]', "-1"), ("[2]", "-1"), ("garbage", "-1"), (b"\xff", "-1"),
])
def test_message_id_of_a_bad_frame(frame: str | bytes, expected: str) -> None:
    assert message_id(frame) == expected
