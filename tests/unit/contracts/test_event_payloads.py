"""Every event type: built by its producer, sent as JSON, parsed by the consumer's model with exact decimals."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge_nodes.commands import CommandRunner
from edge_nodes.metrics import REGISTRY
from edge_nodes.station_events import charging_completed, completed_deliveries, completed_gas_fills
from edge_nodes.transactions import SideBook, fuelling_event, gap_event, last_record
from protocol_adapters.ocpp.sessions import ChargingSession
from protocol_adapters.readings import Reading
from telemetry.contracts.commands import Acknowledgement
from telemetry.contracts.events import CloudEvent, EventPayload
from telemetry.contracts.events.charging import ChargingCompleted, ChargingRefused
from telemetry.contracts.events.delivery import DeliveryCompleted
from telemetry.contracts.events.fuelling import FuellingCompleted, FuellingGap
from telemetry.contracts.events.gas import GasFillCompleted
from telemetry.contracts.events.registry import EVENT_PAYLOADS, MODELS
from telemetry.contracts.quality import Quality

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]
SOURCE_PACKAGES = ("business_services", "control_api", "edge_nodes", "forecourt", "protocol_adapters",
                   "simulators", "telemetry")


def _readings(values: dict[str, object]) -> dict[str, Reading]:
    return {k: Reading(k, v, T, Quality.GOOD) for k, v in values.items()}


def _over_the_wire(event: CloudEvent) -> EventPayload:
    """What a consumer does: bytes → envelope → the registry's model for the type."""
    received = CloudEvent.from_bytes(event.to_bytes())
    return EVENT_PAYLOADS[received.type].from_event(received)


def test_fuelling_completed_round_trip_keeps_the_pumps_centilitres() -> None:
    fields = {"transaction": 7, "nozzle": 2, "grade": 95, "volume": 0.1 + 0.2, "amount": 218, "price": 725,
              "start": 1_772_352_000, "end": 1_772_352_040, "volume_total": 1041.38, "end_reason": 1}
    record = last_record(_readings({f"fp1/last/{k}": v for k, v in fields.items()}), 1)
    assert record is not None
    parsed = _over_the_wire(fuelling_event("st-01", "disp-01", 1, record))
    assert isinstance(parsed, FuellingCompleted)
    assert (parsed.volume_l, parsed.totalizer_before_l, parsed.totalizer_after_l) == (
        Decimal("0.30"), Decimal("1041.08"), Decimal("1041.38"))
    assert str(parsed.volume_l) == "0.30" and parsed.started_at == T and parsed.started_at.tzinfo is UTC


def test_fuelling_gap_round_trip() -> None:
    book = SideBook()
    book.account("st-01", "disp-01", 1, {"transaction": 1, "nozzle": 1, "grade": 92, "volume": 20.0,
                                         "volume_total": 1020.0}, T)
    gap, _ = book.account("st-01", "disp-01", 1, {"transaction": 4, "nozzle": 1, "grade": 92, "volume": 10.0,
                                                  "volume_total": 1067.25}, T)
    assert gap is not None
    parsed = _over_the_wire(gap_event(gap))
    assert parsed == gap and isinstance(parsed, FuellingGap) and str(parsed.volume_l) == "37.25"


def test_gas_fill_round_trip_rounds_the_skids_float_to_the_displayed_hundredth_once() -> None:
    values = {"state": 2, "transaction": 3, "mass": 12.340000152587891, "amount": 5553, "price": 450,
              "totalizer": 1234.5, "stop_reason": "target_pressure"}
    before = _readings({"cng1/state": 1})
    [event] = completed_gas_fills("st-01", "skid-01", before, _readings({f"cng1/{k}": v for k, v in values.items()}))
    assert event.data["mass_kg"] == "12.34" and event.data["totalizer_after_kg"] == "1234.50"
    parsed = _over_the_wire(event)
    assert isinstance(parsed, GasFillCompleted)
    assert (parsed.mass_kg, parsed.totalizer_after_kg, parsed.amount_fen) == (Decimal("12.34"), Decimal("1234.50"),
                                                                               5553)


@pytest.mark.parametrize(("status", "model"), [("Accepted", ChargingCompleted), ("Blocked", ChargingRefused)])
def test_charging_round_trip(status: str, model: type[EventPayload]) -> None:
    session = ChargingSession("CP-0001", 1, "42", "RFID0001", T, T.replace(minute=30), 1_000, 8_257, 7.257,
                              "Local", status)
    parsed = _over_the_wire(charging_completed("st-01", "csms", session))
    assert type(parsed) is model
    assert isinstance(parsed, ChargingCompleted | ChargingRefused) and parsed.energy_kwh == Decimal("7.257")
    assert isinstance(parsed, ChargingCompleted) or (isinstance(parsed, ChargingRefused) and parsed.energy_flowed)


def test_delivery_round_trip() -> None:
    before = _readings({"tank2/last_delivery_end": 1_772_000_000, "tank2/last_delivery_volume": 9000.0})
    after = _readings({"tank2/last_delivery_end": 1_772_003_600, "tank2/last_delivery_volume": 15034.27})
    [event] = completed_deliveries("st-01", "atg-1", before, after)
    parsed = _over_the_wire(event)
    assert isinstance(parsed, DeliveryCompleted) and parsed.volume_l == Decimal("15034.27") and parsed.tank == 2


async def test_command_acknowledged_round_trip() -> None:
    answered: list[CloudEvent] = []

    async def emit(event: CloudEvent) -> None:
        answered.append(event)

    command = CloudEvent(source="test", type="command.open_valve", data={})
    await CommandRunner("st-01", {}, emit).handle(command.to_bytes())
    [ack] = answered
    parsed = _over_the_wire(ack)
    assert parsed == Acknowledgement(command_id=command.id, command_type="command.open_valve",
                                     result="unknown-command", detail="no such command: command.open_valve")


def test_a_legacy_fuelling_completed_with_float_litres_parses_to_exact_decimals() -> None:
    """What an edge outbox written before the upgrade still holds: the old spelling, litres as JSON numbers."""
    legacy = CloudEvent.from_bytes(
        b'{"specversion":"1.0","id":"daf96296-bae0-5469-92c5-3f8e67c2343b","source":"forecourt/st-01/disp-01",'
        b'"type":"fuelling.completed","time":"2026-03-01T08:00:40Z","data":{"station":"st-01","pump":"disp-01",'
        b'"fuelling_point":1,"nozzle":1,"grade":92,"transaction":5,"volume_l":20.3,"amount_fen":15780,'
        b'"price_fen_per_l":789,"totalizer_before_l":999.7,"totalizer_after_l":1020.0,'
        b'"started_at":"2026-03-01T08:00:00+00:00","ended_at":"2026-03-01T08:00:40+00:00","end_reason":1}}')
    parsed = EVENT_PAYLOADS[legacy.type].from_event(legacy)
    assert isinstance(parsed, FuellingCompleted) and parsed.volume_l == Decimal("20.3")
    assert parsed.event_id() == legacy.id          # the id the old edge gave it: a repeat stays a repeat


@pytest.mark.parametrize(("change", "message"), [
    ({"volume_l": "20.001"}, "decimal places"),                       # more than the pump's centilitres
    ({"started_at": "2026-03-01T08:00:00"}, "timezone"),                # a naive time
    ({"station": "ST 01"}, "pattern"),
    ({"litres": "1"}, "Extra inputs"),
])
def test_a_payload_that_breaks_its_rules_is_refused(change: dict[str, object], message: str) -> None:
    good = {"station": "st-01", "pump": "disp-01", "fuelling_point": 1, "nozzle": 1, "grade": 92, "transaction": 5,
            "volume_l": "20.00", "amount_fen": 15780, "price_fen_per_l": 789, "totalizer_before_l": "1000.00",
            "totalizer_after_l": "1020.00", "started_at": "2026-03-01T08:00:00Z", "ended_at": "2026-03-01T08:00:40Z"}
    FuellingCompleted.model_validate(good)
    with pytest.raises(ValidationError, match=message):
        FuellingCompleted.model_validate(good | change)


def test_a_model_parses_only_its_own_types() -> None:
    gas = CloudEvent(source="t", type=GasFillCompleted.TYPE, data={})
    with pytest.raises(ValueError, match=r"not a fuelling\.completed"):
        FuellingCompleted.from_event(gas)


def test_the_registry_knows_every_payload_model() -> None:
    def subclasses(cls: type[EventPayload]) -> set[type[EventPayload]]:
        return {s for c in cls.__subclasses__() for s in (c, *subclasses(c))}
    concrete = {m for m in subclasses(EventPayload) if "TYPE" in vars(m)}
    assert concrete == set(MODELS) and set(EVENT_PAYLOADS.values()) == set(MODELS)


@pytest.mark.parametrize("event_type", sorted(EVENT_PAYLOADS))
def test_each_event_type_string_is_written_once_in_the_source(event_type: str) -> None:
    literal = re.compile(rf"""["']{re.escape(event_type)}["']""")
    places = [f"{path.relative_to(ROOT)}:{n}" for package in SOURCE_PACKAGES
              for path in sorted((ROOT / package).rglob("*.py"))
              for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if literal.search(line)]
    assert len(places) == 1, places


def test_a_legacy_gas_fill_with_the_skids_raw_float_is_rounded_as_the_old_consumer_did() -> None:
    legacy = CloudEvent(source="forecourt/st-01/skid-01", type=GasFillCompleted.TYPE, data={
        "station": "st-01", "skid": "skid-01", "product": "CNG", "dispenser": 1, "transaction": 3,
        "mass_kg": 12.340000152587891, "amount_fen": 5553, "price_fen_per_kg": 450, "totalizer_after_kg": 1234.5,
        "stop_reason": "preset", "ended_at": "2026-03-01T08:00:00+00:00"})
    fill = GasFillCompleted.from_event(CloudEvent.from_bytes(legacy.to_bytes()))
    assert (fill.mass_kg, fill.totalizer_after_kg) == (Decimal("12.34"), Decimal("1234.50"))


def test_a_device_record_that_breaks_its_payload_rules_is_a_counted_skip_not_a_crash() -> None:
    def unbuildable() -> float:
        labels = {"type": GasFillCompleted.TYPE}
        return REGISTRY.get_sample_value("forecourt_edge_events_unbuildable_total", labels) or 0.0

    values = {"state": 2, "transaction": 3, "mass": -1.0, "amount": 5553, "price": 450, "totalizer": 1234.5,
              "stop_reason": "x" * 65}
    good = {"state": 2, "transaction": 4, "mass": 5.0, "amount": 2250, "price": 450, "totalizer": 1239.5,
            "stop_reason": "preset"}
    before = unbuildable()
    after = _readings({f"cng1/{k}": v for k, v in values.items()} | {f"cng2/{k}": v for k, v in good.items()})
    [event] = completed_gas_fills("st-01", "skid-01", {}, after)
    assert event.data["dispenser"] == 2 and unbuildable() == before + 1     # the good one beside it still goes


def test_drive_through_awaiting_round_trip_and_its_id_from_the_recognition() -> None:
    from telemetry.contracts.events.drive_through import DriveThroughAwaiting

    waiting = DriveThroughAwaiting(
        station="st-01", recognition_id="3e0b1c52-9f8d-4d0e-a3a7-5b1f2c7d9e41", order_no="st-01-20260301-O00001",
        fuelling_point=2, member_no="M00000001", plate="京A12345", method="stored_value", card_no="8861000000000017",
        grade=92, volume_l=Decimal("38.02"), amount_fen=30000, fuelled_at=T, expires_at=T + timedelta(minutes=10))
    parsed = _over_the_wire(waiting.envelope(source="test", event_id=waiting.event_id()))
    assert parsed == waiting
    assert waiting.model_copy(update={"amount_fen": 1}).event_id() == waiting.event_id()   # the same wait
