"""The charger simulator against a real OCPP 1.6J CSMS written here with the ``ocpp`` library.

The CSMS records every CALL it receives (action and camelCase payload, in arrival order) and can
call the charger. Time runs 40x on a SimClock: a 5 s meter interval is 0.125 s of wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from simulators.charger import ChargerConfig, ChargerSimulator, ConnectorConfig, ErrorCode, EvProfile
from simulators.clock import SimClock

pytestmark = [pytest.mark.integration, pytest.mark.serial]

SPEED = 40.0
HEARTBEAT_S = 10


class Csms16(ChargePoint):
    """Central system side of one connection: answers and records."""

    def __init__(self, cp_id: str, connection: ServerConnection, owner: CsmsServer) -> None:
        super().__init__(cp_id, connection)
        self.owner = owner

    def _record(self, action: str, payload: dict[str, Any]) -> None:
        self.owner.received.append((action, payload))

    @on(Action.boot_notification)
    def on_boot_notification(self, **payload: Any) -> Any:
        self._record("BootNotification", payload)
        now = datetime.now(UTC).isoformat()
        return call_result.BootNotification(current_time=now, interval=HEARTBEAT_S, status=self.owner.boot_status)

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
        status = "Blocked" if payload["id_tag"] in self.owner.blocked else "Accepted"
        return call_result.Authorize(id_tag_info={"status": status})

    @on(Action.start_transaction)
    def on_start_transaction(self, **payload: Any) -> Any:
        self._record("StartTransaction", payload)
        return call_result.StartTransaction(
            transaction_id=next(self.owner.transaction_ids), id_tag_info={"status": "Accepted"}
        )

    @on(Action.meter_values)
    def on_meter_values(self, **payload: Any) -> Any:
        self._record("MeterValues", payload)
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    def on_stop_transaction(self, **payload: Any) -> Any:
        self._record("StopTransaction", payload)
        return call_result.StopTransaction()


class CsmsServer:
    """A websocket server on 127.0.0.1 speaking ocpp1.6; restartable on the same port."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.paths: list[str] = []
        self.connection: Csms16 | None = None
        self.blocked: set[str] = set()
        self.boot_status = "Accepted"
        self.transaction_ids = itertools.count(1001)
        self.port = 0
        self._server: Server | None = None

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", self.port, subprotocols=["ocpp1.6"])
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self.connection = None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.paths.append(ws.request.path)
        cp = Csms16(ws.request.path.rsplit("/", 1)[-1], ws, self)
        self.connection = cp
        with contextlib.suppress(ConnectionClosed):
            await cp.start()

    def actions(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == action]

    def statuses(self, connector_id: int) -> list[str]:
        return [p["status"] for p in self.actions("StatusNotification") if p["connector_id"] == connector_id]


async def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait (wall time) until ``condition()`` holds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def energy_of(meter_values: dict[str, Any]) -> int:
    sampled = meter_values["meter_value"][0]["sampled_value"]
    return int(next(s["value"] for s in sampled if s["measurand"] == "Energy.Active.Import.Register"))


@pytest.fixture
async def csms() -> Any:
    server = CsmsServer()
    await server.start()
    yield server
    await server.stop()


def charger_config(port: int, **overrides: Any) -> ChargerConfig:
    values: dict[str, Any] = {
        "charge_point_id": "chg-16",
        "ocpp_version": "1.6",
        "csms_url": f"ws://127.0.0.1:{port}/ocpp",
        "connectors": [ConnectorConfig(connector_id=1, meter_start_wh=125_000), ConnectorConfig(connector_id=2)],
        "meter_interval_s": 5,
        "reconnect_min_s": 1.0,
        "reconnect_max_s": 4.0,
        "response_timeout_s": 3.0,
        "seed": 7,
    }
    return ChargerConfig(**{**values, **overrides})


async def test_boot_heartbeat_status_authorise_start_meter_stop(csms: CsmsServer) -> None:
    async with ChargerSimulator(charger_config(csms.port), SimClock(SPEED)) as charger:
        await eventually(lambda: len(csms.statuses(2)) >= 1 and len(csms.actions("Heartbeat")) >= 1)
        assert csms.paths == ["/ocpp/chg-16"]
        boot = csms.actions("BootNotification")[0]
        assert (boot["charge_point_vendor"], boot["charge_point_model"]) == ("SimCo", "AC7kW")
        assert csms.statuses(0) == ["Available"] and csms.statuses(1) == ["Available"]
        assert charger.settings.integer("HeartbeatInterval") == HEARTBEAT_S

        assert await charger.plug_in(1, "RFID0001")
        await eventually(lambda: len(csms.actions("MeterValues")) >= 3)
        await charger.unplug(1)
        await eventually(lambda: len(csms.actions("StopTransaction")) == 1)

    names = [name for name, _ in csms.received]
    assert names.index("Authorize") < names.index("StartTransaction") < names.index("MeterValues")
    start = csms.actions("StartTransaction")[0]
    assert (start["connector_id"], start["id_tag"], start["meter_start"]) == (1, "RFID0001", 125_000)
    meters = csms.actions("MeterValues")
    assert {m["transaction_id"] for m in meters} == {1001}
    energies = [energy_of(m) for m in meters]
    assert energies == sorted(energies) and energies[-1] > energies[0] > 125_000
    sampled = {s["measurand"]: s for s in meters[0]["meter_value"][0]["sampled_value"]}
    assert sampled["Energy.Active.Import.Register"]["unit"] == "Wh"
    assert sampled["Current.Import"]["phase"] == "L1" and 30.0 < float(sampled["Current.Import"]["value"]) <= 32.0
    assert 6.5 < float(sampled["Power.Active.Import"]["value"]) < 7.5
    assert "SoC" not in sampled  # AC: no BMS data
    stop = csms.actions("StopTransaction")[0]
    assert (stop["transaction_id"], stop["reason"]) == (1001, "EVDisconnected")
    assert stop["meter_stop"] >= energies[-1]
    assert csms.statuses(1) == ["Available", "Preparing", "Charging", "Available"]


async def test_blocked_card_is_refused(csms: CsmsServer) -> None:
    csms.blocked.add("STOLEN01")
    async with ChargerSimulator(charger_config(csms.port), SimClock(SPEED)) as charger:
        await eventually(lambda: charger.online)
        assert not await charger.plug_in(1, "STOLEN01")
        await asyncio.sleep(0.2)
    assert csms.actions("StartTransaction") == []
    assert csms.statuses(1)[-1] == "Preparing"


async def test_remote_start_remote_stop_and_configuration(csms: CsmsServer) -> None:
    async with ChargerSimulator(charger_config(csms.port), SimClock(SPEED)) as charger:
        await eventually(lambda: charger.online and csms.connection is not None)
        assert csms.connection is not None
        cs = csms.connection
        assert await charger.plug_in(2)

        changed = await cs.call(call.ChangeConfiguration(key="MeterValueSampleInterval", value="2"))
        assert changed.status == "Accepted"
        assert (await cs.call(call.ChangeConfiguration(key="MeterValueSampleInterval", value="-1"))).status == (
            "Rejected"
        )
        assert (await cs.call(call.ChangeConfiguration(key="NoSuchKey", value="1"))).status == "NotSupported"
        config = await cs.call(call.GetConfiguration(key=["MeterValueSampleInterval", "NoSuchKey"]))
        assert config.configuration_key == [{"key": "MeterValueSampleInterval", "readonly": False, "value": "2"}]
        assert config.unknown_key == ["NoSuchKey"]

        started = await cs.call(call.RemoteStartTransaction(id_tag="APP00042", connector_id=2))
        assert started.status == "Accepted"
        await eventually(lambda: len(csms.actions("MeterValues")) >= 3)
        assert (await cs.call(call.RemoteStartTransaction(id_tag="APP00043", connector_id=2))).status == "Rejected"
        assert (await cs.call(call.RemoteStopTransaction(transaction_id=999))).status == "Rejected"
        first_id = 1001  # the first transactionId this CSMS hands out
        assert (await cs.call(call.RemoteStopTransaction(transaction_id=first_id))).status == "Accepted"
        await eventually(lambda: len(csms.actions("StopTransaction")) == 1 and csms.statuses(2)[-1] == "Finishing")

    start = csms.actions("StartTransaction")[0]
    assert (start["connector_id"], start["id_tag"]) == (2, "APP00042")
    assert csms.actions("Authorize") == []  # AuthorizeRemoteTxRequests is false
    stamps = [datetime.fromisoformat(m["meter_value"][0]["timestamp"]) for m in csms.actions("MeterValues")]
    # the 2 s meter interval is simulated time (tests/unit/simulators/test_charger_model.py); on the wire the
    # samples carry the wall clock, in order (one time base toward the edge: simulators/clock.py)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(abs(stamp - datetime.now(UTC)) < timedelta(minutes=1) for stamp in stamps)
    assert csms.actions("StopTransaction")[0]["reason"] == "Remote"


async def test_connector_fault_reports_error_status(csms: CsmsServer) -> None:
    async with ChargerSimulator(charger_config(csms.port), SimClock(SPEED)) as charger:
        await eventually(lambda: charger.online)
        assert await charger.plug_in(1, "RFID0001", ev=EvProfile(start_soc_pct=50))
        await eventually(lambda: len(csms.actions("MeterValues")) >= 1)
        charger.inject_fault(1, ErrorCode.GROUND_FAILURE, info="RCD tripped")
        await eventually(lambda: len(csms.actions("StopTransaction")) == 1)
        assert not await charger.swipe("RFID0002", 1)
        charger.clear_fault(1)
        await eventually(lambda: csms.statuses(1)[-1] == "Finishing")

    faulted = [p for p in csms.actions("StatusNotification") if p["status"] == "Faulted"]
    assert len(faulted) == 1
    assert (faulted[0]["connector_id"], faulted[0]["error_code"], faulted[0]["info"]) == (
        1,
        "GroundFailure",
        "RCD tripped",
    )
    assert csms.actions("StopTransaction")[0]["reason"] == "Other"
    assert csms.statuses(1)[-2:] == ["Faulted", "Finishing"]


async def test_csms_restart_mid_transaction_delivers_queue_in_order(csms: CsmsServer) -> None:
    clock = SimClock(SPEED)
    async with ChargerSimulator(charger_config(csms.port), clock) as charger:
        await eventually(lambda: charger.online)
        assert await charger.plug_in(1, "RFID0001")
        await eventually(lambda: len(csms.actions("MeterValues")) >= 2)
        await csms.stop()
        before = len(csms.received)
        await eventually(lambda: not charger.online)
        await eventually(lambda: charger.outbox.transactional_count() >= 3)  # meter values pile up
        await charger.unplug(1)
        queued = [m.action for m in charger.outbox.pending() if m.transactional]
        assert queued[-1] == "StopTransaction" and set(queued[:-1]) == {"MeterValues"}

        await csms.start()  # same port
        await eventually(lambda: len(csms.actions("StopTransaction")) == 1 and not charger.outbox.pending())

    after = [(name, p) for name, p in csms.received[before:] if name in ("MeterValues", "StopTransaction")]
    assert len(after) == len(queued)
    assert [name for name, _ in after] == queued
    assert {p["transaction_id"] for _, p in after} == {1001}
    stamps = [datetime.fromisoformat(p["meter_value"][0]["timestamp"]) for name, p in after if name == "MeterValues"]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    energies = [energy_of(p) for name, p in csms.received if name == "MeterValues"]
    assert energies == sorted(energies)
    assert after[-1][1]["meter_stop"] >= energies[-1]
    assert len(csms.actions("BootNotification")) == 1  # a reconnect is not a reboot


async def test_reset_reboots_and_boot_retry_when_pending(csms: CsmsServer) -> None:
    csms.boot_status = "Pending"
    async with ChargerSimulator(charger_config(csms.port, boot_retry_s=2), SimClock(SPEED)) as charger:
        await eventually(lambda: len(csms.actions("BootNotification")) >= 2)
        assert not charger.online and csms.actions("StatusNotification") == []
        csms.boot_status = "Accepted"
        await eventually(lambda: charger.online)
        assert await charger.plug_in(1, "RFID0001")
        await eventually(lambda: len(csms.actions("StartTransaction")) == 1)
        boots = len(csms.actions("BootNotification"))
        assert csms.connection is not None
        assert (await csms.connection.call(call.Reset(type="Soft"))).status == "Accepted"
        await eventually(lambda: len(csms.actions("BootNotification")) == boots + 1 and charger.online)
        await eventually(lambda: len(csms.actions("StopTransaction")) == 1)
    assert csms.actions("StopTransaction")[0]["reason"] == "SoftReset"
    names = [name for name, _ in csms.received]
    assert names.index("StopTransaction") < len(names) - names[::-1].index("BootNotification") - 1
    assert len(csms.paths) == 2


async def test_network_outage_queues_and_offline_card_rules(csms: CsmsServer) -> None:
    async with ChargerSimulator(charger_config(csms.port), SimClock(SPEED)) as charger:
        await eventually(lambda: charger.online)
        assert await charger.plug_in(1, "RFID0001")
        await eventually(lambda: len(csms.actions("MeterValues")) >= 1)
        charger.faults.go_offline()
        await eventually(lambda: not charger.online and charger.outbox.transactional_count() >= 2)
        assert await charger.swipe("RFID0001")  # cached verdict: stops its own transaction
        assert not await charger.plug_in(2, "UNKNOWN9")  # unknown card, AllowOfflineTxForUnknownId false
        assert await charger.swipe("RFID0001", 1) is False  # connector 1 is Finishing
        await asyncio.sleep(0.3)
        assert len(csms.paths) == 1  # stays away while offline
        charger.faults.go_online()
        await eventually(lambda: len(csms.actions("StopTransaction")) == 1 and not charger.outbox.pending())
    assert len(csms.paths) == 2
    stop = csms.actions("StopTransaction")[0]
    assert (stop["reason"], stop["id_tag"]) == ("Local", "RFID0001")
    assert csms.statuses(1)[-1] == "Finishing" and csms.statuses(2)[-1] == "Preparing"
    assert [a["id_tag"] for a in csms.actions("Authorize")] == ["RFID0001"]


async def test_answer_faults_slow_refused_and_garbage(csms: CsmsServer) -> None:
    async with ChargerSimulator(charger_config(csms.port), SimClock(SPEED)) as charger:
        await eventually(lambda: charger.online and csms.connection is not None)
        assert csms.connection is not None
        cs = csms.connection
        charger.faults.refuse_csms_calls()
        with pytest.raises(InternalError):
            await cs.call(call.GetConfiguration(), suppress=False)
        charger.faults.refuse_csms_calls(False)
        charger.faults.slow_answers(40)  # simulated seconds: 1 s of wall time at 40x
        cs._response_timeout = 0.3
        with pytest.raises(asyncio.TimeoutError):
            await cs.call(call.GetConfiguration(key=["HeartbeatInterval"]))
        charger.faults.slow_answers(0)
        assert await charger.faults.send_garbage()
        cs._response_timeout = 5
        answer = await cs.call(call.GetConfiguration(key=["HeartbeatInterval"]))
        assert answer.configuration_key[0]["value"] == str(HEARTBEAT_S)
        assert await charger.plug_in(1, "RFID0001")  # the link survived all of it
        await eventually(lambda: len(csms.actions("StartTransaction")) == 1)
    assert len(csms.paths) == 1


async def test_power_loss_ends_transaction_and_reboots(csms: CsmsServer) -> None:
    async with ChargerSimulator(charger_config(csms.port), SimClock(SPEED)) as charger:
        await eventually(lambda: charger.online)
        assert await charger.plug_in(1, "RFID0001")
        await eventually(lambda: len(csms.actions("MeterValues")) >= 1)
        charger.faults.power_loss()
        await eventually(lambda: not charger.online)
        charger.faults.power_restore()
        await eventually(lambda: len(csms.actions("StopTransaction")) == 1 and not charger.outbox.pending())
    assert len(csms.actions("BootNotification")) == 2
    assert csms.actions("StopTransaction")[0]["reason"] == "PowerLoss"
    assert csms.statuses(1)[-1] == "Finishing"
