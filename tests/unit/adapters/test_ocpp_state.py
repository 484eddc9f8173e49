"""Live charger state as readings: offline is comm-loss, replays never move a value back, 2.0.1 status words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from protocol_adapters.ocpp.codec import MeterSample, OcppVersion
from protocol_adapters.ocpp.state import ChargerStates
from protocol_adapters.readings import Reading
from telemetry.contracts.quality import Quality

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def by_key(states: ChargerStates) -> dict[str, Reading]:
    return {r.key: r for r in states.readings()}


def test_readings_cover_every_expected_connector_and_nothing_else() -> None:
    states = ChargerStates({"chg-01": 1, "chg-02": 2})
    states.connected("chg-99", OcppVersion.V16)     # not on the list: no readings
    states.status("chg-01", 3, "Available")         # a connector the station file does not declare
    keys = [r.key for r in states.readings()]
    assert keys == states.metric_keys()
    assert len(keys) == 2 + 5 * 3 and "chg-02/2/soc" in keys and not any(k.startswith("chg-99") for k in keys)


def test_a_charger_not_connected_is_offline_with_comm_loss() -> None:
    states = ChargerStates({"chg-01": 1})
    readings = by_key(states)
    assert readings["chg-01/online"].value is False and readings["chg-01/online"].quality is Quality.GOOD
    assert {(r.quality, r.reason) for k, r in readings.items() if k != "chg-01/online"} == {(Quality.BAD, "comm-loss")}
    states.connected("chg-01", OcppVersion.V16)
    states.status("chg-01", 1, "Available")
    readings = by_key(states)
    assert readings["chg-01/online"].value is True
    assert (readings["chg-01/1/status"].value, readings["chg-01/1/status"].quality) == ("Available", Quality.GOOD)
    assert readings["chg-01/1/energy"].reason == "not-yet-read" and readings["chg-01/1/power"].value == 0.0
    assert readings["chg-01/1/soc"].value is None and readings["chg-01/1/soc"].quality is Quality.GOOD
    states.disconnected("chg-01")
    assert by_key(states)["chg-01/1/status"].reason == "comm-loss"


def test_samples_never_move_back_and_a_transaction_end_zeroes_power() -> None:
    states = ChargerStates({"chg-01": 1})
    states.connected("chg-01", OcppVersion.V16)
    states.transaction_started("chg-01", 1, "1001", 125_000, T0)
    assert states.sample("chg-01", 1, MeterSample(T0 + timedelta(seconds=60), 125_120, 7.2, None))
    assert not states.sample("chg-01", 1, MeterSample(T0 + timedelta(seconds=30), 125_060, 7.1, None))  # older
    assert states.sample("chg-01", 1, MeterSample(T0 + timedelta(seconds=60), 125_120, 7.2, None))      # a repeat
    readings = by_key(states)
    assert (readings["chg-01/1/energy"].value, readings["chg-01/1/power"].value) == (125.12, 7.2)
    assert readings["chg-01/1/transaction"].value == "1001"
    states.transaction_ended("chg-01", 1, "1001", 125_200, T0 + timedelta(seconds=90))
    readings = by_key(states)
    assert (readings["chg-01/1/energy"].value, readings["chg-01/1/power"].value) == (125.2, 0.0)
    assert readings["chg-01/1/transaction"].value == ""


def test_201_status_follows_connector_status_and_charging_state() -> None:
    states = ChargerStates({"chg-02": 1})
    states.connected("chg-02", OcppVersion.V201)
    seen = []
    states.status_201("chg-02", 1, "Occupied")
    seen.append(by_key(states)["chg-02/1/status"].value)
    states.transaction_started("chg-02", 1, "tx-a")
    states.charging_state("chg-02", 1, "Charging")
    seen.append(by_key(states)["chg-02/1/status"].value)
    states.sample("chg-02", 1, MeterSample(T0, 1000, 50.0, 80.0))
    states.charging_state("chg-02", 1, "SuspendedEV")
    seen.append(by_key(states)["chg-02/1/status"].value)
    states.transaction_ended("chg-02", 1, "tx-a", ev_connected=True)
    seen.append(by_key(states)["chg-02/1/status"].value)
    assert by_key(states)["chg-02/1/soc"].value == 80.0
    states.status_201("chg-02", 1, "Available")
    seen.append(by_key(states)["chg-02/1/status"].value)
    assert seen == ["Preparing", "Charging", "SuspendedEV", "Finishing", "Available"]
    assert by_key(states)["chg-02/1/soc"].value is None      # the EV left
