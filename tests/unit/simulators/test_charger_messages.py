"""OCPP 1.6 and 2.0.1 dialects without a socket: every message they build passes the OCPP schema."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.messages import Call, CallResult, validate_payload
from ocpp.v16 import call_result as result16

from simulators.charger.config import ChargerConfig, ConnectorConfig, EvProfile
from simulators.charger.dialect import Outgoing
from simulators.charger.events import ErrorCode
from simulators.charger.model import ChargerModel
from simulators.charger.ocpp16 import ChargePoint16, Ocpp16Dialect
from simulators.charger.ocpp201 import Ocpp201Dialect
from simulators.charger.settings import ChargerSettings
from simulators.clock import ManualClock

_T = TypeVar("_T")


class FakeControl:
    """The charger as the dialects see it, with a plain list as outbox."""

    def __init__(self, version: str, **overrides: Any) -> None:
        values: dict[str, Any] = {
            "ocpp_version": version,
            "connectors": [ConnectorConfig(connector_id=1, meter_start_wh=125_000), ConnectorConfig(connector_id=2)],
            "meter_interval_s": 60,
        }
        self.config = ChargerConfig(**{**values, **overrides})
        self.model = ChargerModel(self.config, random.Random(1), ManualClock().now())
        self.settings = ChargerSettings(self.config)
        self.online = True
        self.sent: list[Outgoing] = []
        self.resets: list[tuple[bool, bool]] = []
        self.dialect: Any = Ocpp16Dialect(self.config, self) if version == "1.6" else Ocpp201Dialect(self.config, self)

    def mutate(self, change: Callable[[ChargerModel], _T]) -> _T:
        result = change(self.model)
        for event in self.model.drain_events():
            self.sent += self.dialect.messages_for(event)
        return result

    def request_reset(self, *, hard: bool, when_idle: bool) -> None:
        self.resets.append((hard, when_idle))

    async def before_answer(self, action: str) -> None:
        return None

    def take(self) -> list[Outgoing]:
        taken, self.sent = self.sent, []
        return taken


async def wire(message: Outgoing, version: str) -> dict[str, Any]:
    """camelCase payload exactly as ``ChargePoint.call`` would send it, validated against the schema."""
    request = message.build()
    payload = remove_nones(snake_to_camel_case(serialize_as_dict(request)))
    assert isinstance(payload, dict)
    await validate_payload(Call("1", message.action, payload), version)
    assert type(request).__name__ == message.action
    return payload


async def test_v16_transaction_messages_and_late_transaction_id() -> None:
    cs = FakeControl("1.6")
    cs.mutate(lambda m: m.plug_in(1, EvProfile()))
    cs.mutate(lambda m: m.authorize(1, "RFID0001"))
    preparing, start, charging = cs.take()
    assert [m.action for m in (preparing, start, charging)] == [
        "StatusNotification",
        "StartTransaction",
        "StatusNotification",
    ]
    assert (await wire(start, "1.6"))["meterStart"] == 125_000
    assert (await wire(charging, "1.6"))["status"] == "Charging"

    cs.mutate(lambda m: m.advance(120))
    first, second = cs.take()
    assert "transactionId" not in await wire(first, "1.6")  # StartTransaction not answered yet
    assert start.on_result is not None
    start.on_result(result16.StartTransaction(transaction_id=1001, id_tag_info={"status": "Accepted"}))
    payload = await wire(second, "1.6")
    assert payload["transactionId"] == 1001
    sampled = {s["measurand"]: s for s in payload["meterValue"][0]["sampledValue"]}
    assert all(isinstance(s["value"], str) for s in sampled.values())  # 1.6: strings
    assert int(sampled["Energy.Active.Import.Register"]["value"]) > 125_000
    assert (sampled["Voltage"]["phase"], sampled["Voltage"]["unit"]) == ("L1-N", "V")

    cs.mutate(lambda m: m.unplug(1))
    stop, available = cs.take()
    stopped = await wire(stop, "1.6")
    assert (stopped["transactionId"], stopped["reason"]) == (1001, "EVDisconnected")
    end_values = stopped["transactionData"][0]["sampledValue"]
    assert [(v["measurand"], v["context"]) for v in end_values] == [
        ("Energy.Active.Import.Register", "Transaction.End")
    ]
    assert (await wire(available, "1.6"))["status"] == "Available"


async def test_v16_refused_id_tag_ends_the_transaction_deauthorized() -> None:
    cs = FakeControl("1.6")
    cs.mutate(lambda m: m.plug_in(1, EvProfile()))
    cs.mutate(lambda m: m.authorize(1, "BLOCKED"))
    start = cs.take()[1]
    assert start.on_result is not None
    start.on_result(result16.StartTransaction(transaction_id=7, id_tag_info={"status": "Blocked"}))
    stop = next(m for m in cs.take() if m.action == "StopTransaction")
    payload = await wire(stop, "1.6")
    assert (payload["transactionId"], payload["reason"]) == (7, "DeAuthorized")


async def test_v16_stop_without_csms_id_is_not_sent() -> None:
    cs = FakeControl("1.6")
    cs.mutate(lambda m: m.plug_in(1, EvProfile()))
    cs.mutate(lambda m: m.authorize(1, "RFID0001"))
    cs.mutate(lambda m: m.unplug(1))
    stop = next(m for m in cs.take() if m.action == "StopTransaction")
    assert stop.build() is None


async def test_v16_boot_statuses_faults_and_dc_soc() -> None:
    cs = FakeControl("1.6", profile="dc120")
    cs.mutate(lambda m: m.inject_fault(2, ErrorCode.HIGH_TEMPERATURE, "cable 92 °C" + "!" * 60))
    (fault,) = cs.take()
    payload = await wire(fault, "1.6")
    assert (payload["status"], payload["errorCode"], len(payload["info"])) == ("Faulted", "HighTemperature", 50)
    boot = [await wire(m, "1.6") for m in cs.dialect.boot_statuses()]
    assert [(p["connectorId"], p["status"]) for p in boot] == [(0, "Available"), (1, "Available"), (2, "Faulted")]

    cs.mutate(lambda m: m.plug_in(1, EvProfile(start_soc_pct=40)))
    cs.mutate(lambda m: m.authorize(1, "RFID0001"))
    cs.mutate(lambda m: m.advance(60))
    meter = cs.take()[-1]
    sampled = {s["measurand"]: s for s in (await wire(meter, "1.6"))["meterValue"][0]["sampledValue"]}
    assert (sampled["SoC"]["unit"], sampled["SoC"]["location"]) == ("Percent", "EV")
    assert int(sampled["SoC"]["value"]) > 40
    assert "phase" not in sampled["Current.Import"]  # DC


async def test_v16_configuration_handlers() -> None:
    cs = FakeControl("1.6")
    cp = ChargePoint16(cs.dialect, connection=None)
    everything = cp.on_get_configuration()
    keys = {k["key"]: k for k in everything.configuration_key}
    assert keys["MeterValueSampleInterval"] == {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"}
    assert keys["NumberOfConnectors"]["value"] == "2" and keys["NumberOfConnectors"]["readonly"] is True
    assert cp.on_change_configuration(key="heartbeatinterval", value="30").status == "Accepted"
    assert cs.settings.integer("HeartbeatInterval") == 30
    assert cp.on_change_configuration(key="NumberOfConnectors", value="3").status == "Rejected"
    assert cp.on_change_configuration(key="LocalAuthorizeOffline", value="maybe").status == "Rejected"
    assert cp.on_change_configuration(key="Bogus", value="1").status == "NotSupported"
    answer = serialize_as_dict(cp.on_get_configuration(key=["HeartbeatInterval", "Bogus"]))
    await validate_payload(CallResult("1", snake_to_camel_case(answer), "GetConfiguration"), "1.6")
    cp.after_reset(type="Hard")
    assert cs.resets == [(True, False)]


async def test_v201_transaction_events_numbers_and_seq_no() -> None:
    cs = FakeControl("2.0.1", profile="dc60")
    cs.mutate(lambda m: m.plug_in(1, EvProfile(start_soc_pct=30)))
    cs.mutate(lambda m: m.authorize(1, "RFID0001"))
    cs.mutate(lambda m: m.advance(120))
    cs.online = False
    cs.mutate(lambda m: m.advance(60))
    cs.mutate(lambda m: m.unplug(1))
    payloads = [(m.action, await wire(m, "2.0.1")) for m in cs.take()]
    statuses = [p["connectorStatus"] for action, p in payloads if action == "StatusNotification"]
    assert statuses == ["Occupied", "Available"]  # Preparing and Charging are both Occupied
    events = [p for action, p in payloads if action == "TransactionEvent"]
    assert [e["eventType"] for e in events] == ["Started", "Updated", "Updated", "Updated", "Ended"]
    assert [e["seqNo"] for e in events] == [0, 1, 2, 3, 4]
    assert [e.get("offline", False) for e in events] == [False, False, False, True, True]
    assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
    updated = {s["measurand"]: s for s in events[1]["meterValue"][0]["sampledValue"]}
    assert isinstance(updated["Energy.Active.Import.Register"]["value"], float)
    assert updated["SoC"]["unitOfMeasure"] == {"unit": "Percent"} and updated["SoC"]["value"] > 30
    assert 55.0 <= updated["Power.Active.Import"]["value"] <= 60.0
    assert events[-1]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert events[-1]["transactionInfo"]["timeSpentCharging"] == 180


async def test_v201_full_ev_and_fault_problem_event() -> None:
    cs = FakeControl("2.0.1", profile="dc60")
    cs.mutate(lambda m: m.plug_in(1, EvProfile(battery_kwh=10, start_soc_pct=79.5, target_soc_pct=80)))
    cs.mutate(lambda m: m.authorize(1, "RFID0001"))
    cs.mutate(lambda m: m.advance(60))
    events = [await wire(m, "2.0.1") for m in cs.take() if m.action == "TransactionEvent"]
    assert [(e["eventType"], e["triggerReason"]) for e in events] == [
        ("Started", "Authorized"),
        ("Updated", "ChargingStateChanged"),
        ("Ended", "ChargingStateChanged"),
    ]
    assert events[1]["transactionInfo"]["chargingState"] == "SuspendedEV"
    assert events[2]["transactionInfo"]["stoppedReason"] == "StoppedByEV"

    cs.mutate(lambda m: m.inject_fault(2, ErrorCode.POWER_METER_FAILURE))
    cs.mutate(lambda m: m.clear_fault(2))
    problems = [await wire(m, "2.0.1") for m in cs.take() if m.action == "NotifyEvent"]
    assert [(p["eventData"][0]["techCode"], p["eventData"][0]["cleared"]) for p in problems] == [
        ("PowerMeterFailure", False),
        ("PowerMeterFailure", True),
    ]
    assert problems[0]["eventData"][0]["eventId"] != problems[1]["eventData"][0]["eventId"]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_authorize_request_is_schema_valid(version: str) -> None:
    cs = FakeControl(version)
    message = Outgoing("Authorize", lambda: cs.dialect.authorize_request("RFID0001"))
    payload = await wire(message, version)
    assert "RFID0001" in str(payload)
