"""Charger configuration, runtime settings (1.6 keys / 2.0.1 variables) and the outbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.charge_point import snake_to_camel_case
from ocpp.messages import CallResult, validate_payload
from pydantic import ValidationError

from simulators.charger.config import ChargerConfig, ConnectorConfig, EvProfile
from simulators.charger.dialect import Outgoing
from simulators.charger.ocpp201_variables import get_variables, set_variables
from simulators.charger.outbox import Outbox
from simulators.charger.settings import ChargerSettings, SetResult


def test_config_url_and_validation() -> None:
    config = ChargerConfig(
        charge_point_id="chg-07", csms_url="ws://10.0.0.5:9000/steve/websocket/CentralSystemService/"
    )
    assert config.url() == "ws://10.0.0.5:9000/steve/websocket/CentralSystemService/chg-07"
    assert config.url(host="127.0.0.1", port=9100) == "ws://127.0.0.1:9100/steve/websocket/CentralSystemService/chg-07"
    assert (config.subprotocol, config.model_name) == ("ocpp1.6", "AC7kW")
    assert ChargerConfig(ocpp_version="2.0.1", profile="dc120").subprotocol == "ocpp2.0.1"
    assert [c.connector_id for c in ChargerConfig(connectors=[1, 2]).connectors] == [1, 2]  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="csms_url"):
        ChargerConfig(csms_url="http://127.0.0.1:9000")
    with pytest.raises(ValidationError, match="unique"):
        ChargerConfig(connectors=[ConnectorConfig(connector_id=1), ConnectorConfig(connector_id=1)])
    with pytest.raises(ValidationError, match="target_soc_pct"):
        EvProfile(start_soc_pct=80, target_soc_pct=60)
    with pytest.raises(ValidationError):
        ChargerConfig(profile="ac22")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ChargerConfig(charge_point_id="bad/id")


def test_settings_writes_are_typed_bounded_and_notified() -> None:
    seen: list[tuple[str, int | bool]] = []
    settings = ChargerSettings(ChargerConfig(meter_interval_s=30), on_change=lambda k, v: seen.append((k, v)))
    assert settings.text("MeterValueSampleInterval") == "30"
    assert settings.write("MeterValueSampleInterval", " 15 ") is SetResult.ACCEPTED
    assert settings.integer("MeterValueSampleInterval") == 15
    assert settings.write("MeterValueSampleInterval", "3601") is SetResult.REJECTED
    assert settings.write("ConnectionTimeOut", "0") is SetResult.REJECTED
    assert settings.write("LocalAuthorizeOffline", "FALSE") is SetResult.ACCEPTED
    assert settings.flag("LocalAuthorizeOffline") is False and settings.text("LocalAuthorizeOffline") == "false"
    assert settings.write("AuthorizeRemoteTxRequests", "true") is SetResult.REJECTED  # read-only
    assert settings.write("NoSuchKey", "1") is SetResult.NOT_SUPPORTED
    assert seen == [("MeterValueSampleInterval", 15), ("LocalAuthorizeOffline", False)]
    assert "SoC" in ChargerSettings(ChargerConfig(profile="dc60")).text("MeterValuesSampledData")
    assert "SoC" not in settings.text("MeterValuesSampledData")


def _item(component: str, variable: str, **extra: Any) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": variable}, **extra}


async def test_v201_get_and_set_variables_answers_are_schema_valid() -> None:
    settings = ChargerSettings(ChargerConfig(ocpp_version="2.0.1"))
    set_result = set_variables(
        settings,
        [
            _item("SampledDataCtrlr", "TxUpdatedInterval", attribute_value="10"),
            _item("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="ten"),
            _item("AuthCtrlr", "AuthorizeRemoteStart", attribute_value="true"),
            _item("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="5", attribute_type="Target"),
            _item("ChargingStation", "Nope", attribute_value="1"),
        ],
    )
    assert [r["attribute_status"] for r in set_result] == [
        "Accepted",
        "Rejected",
        "Rejected",
        "NotSupportedAttributeType",
        "UnknownComponent",
    ]
    await validate_payload(
        CallResult("1", snake_to_camel_case({"set_variable_result": set_result}), "SetVariables"), "2.0.1"
    )
    got = get_variables(settings, [_item("sampleddatactrlr", "txupdatedinterval"), _item("TxCtrlr", "NoSuchVariable")])
    assert [(r["attribute_status"], r.get("attribute_value")) for r in got] == [
        ("Accepted", "10"),
        ("UnknownVariable", None),
    ]
    await validate_payload(CallResult("1", snake_to_camel_case({"get_variable_result": got}), "GetVariables"), "2.0.1")
    assert settings.integer("MeterValueSampleInterval") == 10


def _status(connector_id: int, label: str) -> Outgoing:
    return Outgoing("StatusNotification", lambda: label, status_key=connector_id)


async def test_outbox_is_fifo_and_coalesces_statuses_only_when_asked() -> None:
    outbox = Outbox()
    meter = Outgoing("MeterValues", lambda: "mv", transactional=True)
    outbox.put(_status(1, "Preparing"))
    outbox.put(meter)
    outbox.put(_status(1, "Charging"))
    assert [m.build() for m in outbox.pending()] == ["Preparing", "mv", "Charging"]
    outbox.put(_status(1, "Finishing"), coalesce=True)
    outbox.put(_status(2, "Available"), coalesce=True)
    assert [m.build() for m in outbox.pending()] == ["mv", "Finishing", "Available"]
    assert outbox.transactional_count() == 1
    assert await outbox.head() is meter
    outbox.done(meter)
    outbox.done(meter)  # already gone: no error
    assert len(outbox) == 2


async def test_outbox_head_waits_for_a_message() -> None:
    outbox = Outbox()
    waiter = asyncio.create_task(outbox.head())
    await asyncio.sleep(0)
    assert not waiter.done()
    message = Outgoing("Heartbeat", lambda: None)
    outbox.put(message)
    assert await asyncio.wait_for(waiter, 1.0) is message
