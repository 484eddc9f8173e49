from __future__ import annotations

from datetime import UTC, datetime

from edge_nodes.station_events import completed_deliveries
from protocol_adapters.ocpp.sessions import ChargingSession
from protocol_adapters.readings import Reading
from telemetry.contracts.quality import Quality

T = datetime(2026, 3, 1, tzinfo=UTC)


def _tank(end: int | None, volume: float | None, quality: Quality = Quality.GOOD) -> dict[str, Reading]:
    return {"tank2/last_delivery_end": Reading("tank2/last_delivery_end", end, T, quality),
            "tank2/last_delivery_volume": Reading("tank2/last_delivery_volume", volume, T, quality)}


def test_a_new_delivery_record_is_one_event_and_a_repeat_keeps_its_id() -> None:
    [event] = completed_deliveries("st", "atg-1", _tank(1_772_000_000, 9000.0), _tank(1_772_003_600, 15000.0))
    assert event.type == "delivery.completed" and event.data["tank"] == 2 and event.data["volume_l"] == "15000.00"
    assert completed_deliveries("st", "atg-1", _tank(1_772_003_600, 15000.0), _tank(1_772_003_600, 15000.0)) == []
    again = completed_deliveries("st", "atg-1", {}, _tank(1_772_003_600, 15000.0))[0]
    assert again.id == event.id


def test_no_delivery_yet_is_no_event() -> None:
    assert completed_deliveries("st", "atg-1", {}, _tank(None, None, Quality.UNCERTAIN)) == []


def _cng(state: int, transaction: int = 3, totalizer: float = 1234.5) -> dict[str, Reading]:
    values = {"state": state, "transaction": transaction, "mass": 12.34, "amount": 5553, "price": 450,
              "totalizer": totalizer, "stop_reason": "target_pressure"}
    return {f"cng1/{k}": Reading(f"cng1/{k}", v, T, Quality.GOOD) for k, v in values.items()}


def test_a_gas_fill_is_one_event_when_the_dispenser_reaches_complete() -> None:
    from edge_nodes.station_events import completed_gas_fills

    [event] = completed_gas_fills("st", "skid-01", _cng(1), _cng(2))
    assert event.type == "gas_fill.completed" and event.data["product"] == "CNG" and event.data["mass_kg"] == "12.34"
    assert completed_gas_fills("st", "skid-01", _cng(2), _cng(2)) == []          # still complete: nothing new
    assert completed_gas_fills("st", "skid-01", {}, _cng(2))[0].id == event.id   # after a restart: same id
    assert completed_gas_fills("st", "skid-01", _cng(0), _cng(1)) == []          # filling is not complete


def _session(status: str, meter_stop_wh: int) -> ChargingSession:
    return ChargingSession("chg-01", 1, "42", "STOLEN01", T, T, 1_000, meter_stop_wh,
                           round((meter_stop_wh - 1_000) / 1000, 3), "DeAuthorized", status)


def test_only_an_accepted_session_is_a_completed_charging_sale() -> None:
    from edge_nodes.station_events import charging_completed

    accepted = charging_completed("st", "chargers", _session("Accepted", 5_000))
    blocked = charging_completed("st", "chargers", _session("Blocked", 5_000))
    never_charged = charging_completed("st", "chargers", _session("Invalid", 1_000))
    assert (accepted.type, accepted.data["id_tag_status"]) == ("charging.completed", "Accepted")
    assert (blocked.type, blocked.data["id_tag_status"], blocked.data["energy_flowed"]) == (
        "charging.refused", "Blocked", True)
    assert (never_charged.type, never_charged.data["energy_flowed"]) == ("charging.refused", False)
    assert blocked.id == accepted.id      # the same session keeps its event id whatever its verdict
