"""The charger simulator against a real OCPP 2.0.1 CSMS written here with the ``ocpp`` library.

The CSMS records every CALL it receives (action and snake_case payload, in arrival order) and can
call the station. Time runs 40x on a SimClock: a 5 s meter interval is 0.125 s of wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from simulators.charger import ChargerConfig, ChargerSimulator, ConnectorConfig, ErrorCode, EvProfile
from simulators.clock import SimClock

pytestmark = [pytest.mark.integration, pytest.mark.serial]

SPEED = 40.0


class Csms201(ChargePoint):
    """CSMS side of one connection: answers and records."""

    def __init__(self, cp_id: str, connection: ServerConnection, owner: CsmsServer) -> None:
        super().__init__(cp_id, connection)
        self.owner = owner

    def _record(self, action: str, payload: dict[str, Any]) -> None:
        self.owner.received.append((action, payload))

    @on(Action.boot_notification)
    def on_boot_notification(self, **payload: Any) -> Any:
        self._record("BootNotification", payload)
        now = datetime.now(UTC).isoformat()
        return call_result.BootNotification(current_time=now, interval=10, status="Accepted")

    @on(Action.heartbeat)
    def on_heartbeat(self, **payload: Any) -> Any:
        self._record("Heartbeat", payload)
        return call_result.Heartbeat(current_time=datetime.now(UTC).isoformat())

    @on(Action.status_notification)
    def on_status_notification(self, **payload: Any) -> Any:
        self._record("StatusNotification", payload)
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, **payload: Any) -> Any:
        self._record("Authorize", payload)
        return call_result.Authorize(id_token_info={"status": "Accepted"})

    @on(Action.transaction_event)
    def on_transaction_event(self, **payload: Any) -> Any:
        self._record("TransactionEvent", payload)
        return call_result.TransactionEvent()

    @on(Action.notify_event)
    def on_notify_event(self, **payload: Any) -> Any:
        self._record("NotifyEvent", payload)
        return call_result.NotifyEvent()


class CsmsServer:
    """A websocket server on 127.0.0.1 speaking ocpp2.0.1; restartable on the same port."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.connection: Csms201 | None = None
        self.port = 0
        self._server: Server | None = None

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", self.port, subprotocols=["ocpp2.0.1"])
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self.connection = None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        cp = Csms201(ws.request.path.rsplit("/", 1)[-1], ws, self)
        self.connection = cp
        with contextlib.suppress(ConnectionClosed):
            await cp.start()

    def actions(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == action]

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.actions("TransactionEvent") if event_type in (None, e["event_type"])]

    def statuses(self, evse_id: int) -> list[str]:
        return [p["connector_status"] for p in self.actions("StatusNotification") if p["evse_id"] == evse_id]


async def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def measurand(event: dict[str, Any], name: str) -> Any:
    sampled = event["meter_value"][0]["sampled_value"]
    return next(s["value"] for s in sampled if s["measurand"] == name)


@pytest.fixture
async def csms() -> Any:
    server = CsmsServer()
    await server.start()
    yield server
    await server.stop()


def station_config(port: int, **overrides: Any) -> ChargerConfig:
    values: dict[str, Any] = {
        "charge_point_id": "chg-201",
        "ocpp_version": "2.0.1",
        "csms_url": f"ws://127.0.0.1:{port}/ocpp/",
        "connectors": [ConnectorConfig(connector_id=1, meter_start_wh=2_000_000), ConnectorConfig(connector_id=2)],
        "profile": "dc120",
        "meter_interval_s": 5,
        "reconnect_min_s": 1.0,
        "reconnect_max_s": 4.0,
        "response_timeout_s": 3.0,
        "seed": 11,
    }
    return ChargerConfig(**{**values, **overrides})


async def test_boot_authorise_transaction_events_and_end(csms: CsmsServer) -> None:
    async with ChargerSimulator(station_config(csms.port), SimClock(SPEED)) as station:
        await eventually(lambda: len(csms.statuses(2)) == 1 and len(csms.actions("Heartbeat")) >= 1)
        boot = csms.actions("BootNotification")[0]
        assert boot["reason"] == "PowerUp" and boot["charging_station"]["model"] == "DC120kW"
        assert csms.statuses(1) == ["Available"]

        assert await station.plug_in(1, "RFID0001", ev=EvProfile(battery_kwh=80, start_soc_pct=20))
        await eventually(lambda: len(csms.events("Updated")) >= 3)
        await station.unplug(1)
        await eventually(lambda: len(csms.events("Ended")) == 1)

    assert csms.actions("Authorize")[0]["id_token"] == {"id_token": "RFID0001", "type": "ISO14443"}
    events = csms.events()
    assert [e["seq_no"] for e in events] == list(range(len(events)))
    assert len({e["transaction_info"]["transaction_id"] for e in events}) == 1
    started, ended = events[0], events[-1]
    assert (started["event_type"], started["trigger_reason"]) == ("Started", "Authorized")
    assert started["evse"] == {"id": 1, "connector_id": 1}
    assert measurand(started, "Energy.Active.Import.Register") == 2_000_000
    periodic = [e for e in events if e["trigger_reason"] == "MeterValuePeriodic"]
    energies = [measurand(e, "Energy.Active.Import.Register") for e in periodic]
    socs = [measurand(e, "SoC") for e in periodic]
    assert energies == sorted(energies) and energies[0] > 2_000_000 and socs == sorted(socs) and socs[0] > 20
    assert all(isinstance(v, float) for v in energies)  # 2.0.1: numbers, not strings
    assert 100.0 <= measurand(periodic[0], "Power.Active.Import") <= 120.0
    assert (ended["trigger_reason"], ended["transaction_info"]["stopped_reason"]) == (
        "EVCommunicationLost",
        "EVDisconnected",
    )
    assert measurand(ended, "Energy.Active.Import.Register") >= energies[-1]
    assert csms.statuses(1) == ["Available", "Occupied", "Available"]


async def test_request_start_stop_and_variables(csms: CsmsServer) -> None:
    async with ChargerSimulator(station_config(csms.port), SimClock(SPEED)) as station:
        await eventually(lambda: station.online and csms.connection is not None)
        assert csms.connection is not None
        cs = csms.connection
        await station.plug_in(2)

        tx_interval = {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}}
        result = await cs.call(call.SetVariables(set_variable_data=[{**tx_interval, "attribute_value": "2"}]))
        assert result.set_variable_result[0]["attribute_status"] == "Accepted"
        unknown = [
            {"component": {"name": "NoSuchCtrlr"}, "variable": {"name": "X"}},
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NoSuchVariable"}},
            tx_interval,
        ]
        got = (await cs.call(call.GetVariables(get_variable_data=unknown))).get_variable_result
        assert [r["attribute_status"] for r in got] == ["UnknownComponent", "UnknownVariable", "Accepted"]
        assert got[2]["attribute_value"] == "2"

        token = {"id_token": "APP00042", "type": "Central"}
        started = await cs.call(call.RequestStartTransaction(id_token=token, remote_start_id=77, evse_id=2))
        assert started.status == "Accepted"
        await eventually(lambda: len(csms.events("Updated")) >= 2)
        busy = await cs.call(call.RequestStartTransaction(id_token=token, remote_start_id=78, evse_id=2))
        assert busy.status == "Rejected"
        assert (await cs.call(call.RequestStopTransaction(transaction_id="no-such-tx"))).status == "Rejected"
        transaction_id = csms.events("Started")[0]["transaction_info"]["transaction_id"]
        assert (await cs.call(call.RequestStopTransaction(transaction_id=transaction_id))).status == "Accepted"
        await eventually(lambda: len(csms.events("Ended")) == 1)

    started_event = csms.events("Started")[0]
    assert started_event["trigger_reason"] == "RemoteStart"
    assert started_event["transaction_info"]["remote_start_id"] == 77
    assert started_event["id_token"] == token
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in csms.events("Updated")]
    # the 2 s meter interval is simulated time (tests/unit/simulators/test_charger_model.py); on the wire the
    # samples carry the wall clock, in order (one time base toward the edge: simulators/clock.py)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(abs(stamp - datetime.now(UTC)) < timedelta(minutes=1) for stamp in stamps)
    ended = csms.events("Ended")[0]
    assert (ended["trigger_reason"], ended["transaction_info"]["stopped_reason"]) == ("RemoteStop", "Remote")
    assert ended["transaction_info"]["charging_state"] == "EVConnected"


async def test_fault_is_faulted_status_and_problem_event(csms: CsmsServer) -> None:
    async with ChargerSimulator(station_config(csms.port), SimClock(SPEED)) as station:
        await eventually(lambda: station.online)
        assert await station.plug_in(1, "RFID0001")
        await eventually(lambda: len(csms.events("Updated")) >= 1)
        station.inject_fault(1, ErrorCode.OVER_CURRENT_FAILURE)
        await eventually(lambda: len(csms.events("Ended")) == 1 and len(csms.actions("NotifyEvent")) == 1)
        station.clear_fault(1)
        await eventually(lambda: len(csms.actions("NotifyEvent")) == 2)

    assert csms.statuses(1) == ["Available", "Occupied", "Faulted", "Occupied"]
    raised, cleared = (n["event_data"][0] for n in csms.actions("NotifyEvent"))
    assert (raised["tech_code"], raised["actual_value"], raised["cleared"]) == ("OverCurrentFailure", "true", False)
    assert raised["component"] == {"name": "EVSE", "evse": {"id": 1}} and raised["variable"] == {"name": "Problem"}
    assert (cleared["tech_code"], cleared["cleared"]) == ("OverCurrentFailure", True)
    ended = csms.events("Ended")[0]
    assert (ended["trigger_reason"], ended["transaction_info"]["stopped_reason"]) == (
        "AbnormalCondition",
        "OvercurrentFault",
    )


async def test_full_ev_ends_its_own_transaction(csms: CsmsServer) -> None:
    config = station_config(csms.port, profile="dc60")
    async with ChargerSimulator(config, SimClock(SPEED)) as station:
        await eventually(lambda: station.online)
        ev = EvProfile(battery_kwh=4, start_soc_pct=78, target_soc_pct=80)
        assert await station.plug_in(1, "RFID0001", ev=ev)
        await eventually(lambda: len(csms.events("Ended")) == 1)
    updates = [e["transaction_info"].get("charging_state") for e in csms.events("Updated")]
    assert updates[-1] == "SuspendedEV"
    ended = csms.events("Ended")[0]
    assert (ended["trigger_reason"], ended["transaction_info"]["stopped_reason"]) == (
        "ChargingStateChanged",
        "StoppedByEV",
    )
    assert measurand(ended, "SoC") == pytest.approx(80.0, abs=0.1)
    assert csms.statuses(1) == ["Available", "Occupied"]  # the EV is still plugged in


async def test_csms_restart_mid_transaction_delivers_queue_in_order(csms: CsmsServer) -> None:
    async with ChargerSimulator(station_config(csms.port), SimClock(SPEED)) as station:
        await eventually(lambda: station.online)
        assert await station.plug_in(1, "RFID0001")
        await eventually(lambda: len(csms.events("Updated")) >= 2)
        await csms.stop()
        before = len(csms.received)
        await eventually(lambda: not station.online)
        await eventually(lambda: station.outbox.transactional_count() >= 3)
        await station.unplug(1)
        queued = len([m for m in station.outbox.pending() if m.transactional])

        await csms.start()
        await eventually(lambda: len(csms.events("Ended")) == 1 and not station.outbox.pending())

    # At-least-once: the event in flight when the CSMS went down may arrive twice; none is lost.
    events = list({e["seq_no"]: e for e in csms.events()}.values())
    assert [e["seq_no"] for e in events] == list(range(len(events)))
    assert len(csms.events()) - len(events) <= 1
    replayed = [p for name, p in csms.received[before:] if name == "TransactionEvent"]
    assert len(replayed) == queued and replayed[-1]["event_type"] == "Ended"
    assert replayed[-1]["offline"] is True and replayed[-2]["offline"] is True
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps)
    energies = [measurand(e, "Energy.Active.Import.Register") for e in events if "meter_value" in e]
    assert energies == sorted(energies)
