"""Commands through MQTT: authorising a nozzle makes the pump dispense, and both the fuelling event and the
command's acknowledgement arrive; a price change is acknowledged only after the pump reads it back."""

import asyncio
import contextlib
from decimal import Decimal

import aiomqtt
import pytest

from edge_nodes.runtime import EdgeNode
from simulators.dispenser.states import FpState
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import AUTHORIZE_NOZZLE, SET_PRICE, STOP_FUELLING, command_topic
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.alarms import ACKNOWLEDGE_ALARM
from telemetry.contracts.events.fuelling import FuellingCompleted
from telemetry.contracts.topics import events_filter
from tests.support.mqtt import recording
from tests.support.station import dispenser, station_for

pytestmark = pytest.mark.integration


def _events(rec: object, kind: str) -> list[CloudEvent]:
    return [CloudEvent.from_bytes(raw) for topic, raw in rec.messages if topic.endswith(f"/events/{kind}")]  # type: ignore[attr-defined]


async def _send(broker: BrokerAddress, group: str, station: str, kind: str, data: dict[str, object]) -> CloudEvent:
    command = CloudEvent(source="test/pos", type=kind, data=data)
    async with aiomqtt.Client(**broker.client_kwargs()) as pos:
        await pos.publish(command_topic(group, station, kind), command.to_bytes(), qos=1)
    return command


async def test_authorise_price_and_bad_commands(broker: BrokerAddress, group: str) -> None:
    async with dispenser(speed=4.0) as server, recording(broker, events_filter(group, "st-01")) as rec:
        node = EdgeNode(station_for(server, poll_s=0.2), broker, group=group)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            server.model.lift_nozzle(1, 1)                       # the customer lifts the nozzle
            authorise = await _send(broker, group, "st-01", AUTHORIZE_NOZZLE, {
                "device": "disp-01", "fuelling_point": 1, "nozzle": 1, "preset_type": "volume",
                "preset_value": 150})
            await rec.wait_until(lambda: _events(rec, "fuelling.completed"), within_s=30)
            [fuelling] = _events(rec, "fuelling.completed")
            sale = FuellingCompleted.from_event(fuelling)
            assert sale.volume_l == Decimal("1.50") and sale.amount_fen == round(1.5 * 789)
            acks = {a.data["command_id"]: a.data for a in _events(rec, "command.acknowledged")}
            assert acks[authorise.id]["result"] == "accepted"

            server.model.hang_nozzle(1, 1)
            price = await _send(broker, group, "st-01", SET_PRICE, {"device": "disp-01", "fuelling_point": 1,
                                                                    "nozzle": 1, "price_fen_per_l": 802})
            await rec.wait_until(lambda: any(a.data["command_id"] == price.id
                                             for a in _events(rec, "command.acknowledged")))
            ack = next(a.data for a in _events(rec, "command.acknowledged") if a.data["command_id"] == price.id)
            assert ack["result"] == "accepted" and "802" in ack["detail"]
            assert server.model.fp_view(1).nozzles[0].price_fen == 802         # what the pump now charges

            # refused in this state, and nonsense: answered, never ignored
            stop = await _send(broker, group, "st-01", STOP_FUELLING, {"device": "disp-01", "fuelling_point": 1})
            wrong = await _send(broker, group, "st-01", SET_PRICE, {"device": "disp-01", "fuelling_point": 1,
                                                                    "nozzle": 1, "price_fen_per_l": 0})
            ghost = await _send(broker, group, "st-01", AUTHORIZE_NOZZLE, {"device": "disp-99", "fuelling_point": 1})
            for_server = await _send(broker, group, "st-01", ACKNOWLEDGE_ALARM, {})   # the station server's
            unknown = await _send(broker, group, "st-01", "command.launch_rocket", {})
            wanted = {stop.id, wrong.id, ghost.id, unknown.id}
            await rec.wait_until(lambda: wanted <= {a.data["command_id"] for a in _events(rec,
                                                                                         "command.acknowledged")})
            results = {a.data["command_id"]: a.data["result"] for a in _events(rec, "command.acknowledged")}
            assert results[stop.id] == "refused"                       # nothing to stop at an idle pump
            assert results[wrong.id] == "bad-argument"
            assert results[ghost.id] == "bad-argument"
            assert results[unknown.id] == "unknown-command"
            assert for_server.id not in results                        # left to the station server, unanswered
            assert server.model.fp_view(1).state in (FpState.IDLE, FpState.CALLING)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_sparkplug_dcmd_writes_writable_points_only(broker: BrokerAddress, group: str) -> None:
    from telemetry.contracts import sparkplug, topics
    from telemetry.contracts.sparkplug import DataType, Metric, Payload
    from telemetry.contracts.topics import MessageType

    async with dispenser() as server, recording(broker, events_filter(group, "st-01")) as rec:
        node = EdgeNode(station_for(server, poll_s=0.2), broker, group=group)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            dcmd = topics.device_topic(group, MessageType.DCMD, "st-01", "disp-01")
            async with aiomqtt.Client(**broker.client_kwargs()) as host:
                await host.publish(dcmd, sparkplug.encode(Payload(1, None, (
                    Metric("fp1/nozzle2/price", None, 1, DataType.INT64, 845),))), qos=1)
                await rec.wait_until(lambda: len(_events(rec, "command.acknowledged")) == 1)
                await host.publish(dcmd, sparkplug.encode(Payload(2, None, (
                    Metric("fp1/volume", None, 2, DataType.DOUBLE, 99.0),))), qos=1)
                await rec.wait_until(lambda: len(_events(rec, "command.acknowledged")) == 2)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    first, second = (a.data for a in _events(rec, "command.acknowledged"))
    assert first["command_type"] == "sparkplug.DCMD" and first["result"] == "accepted"
    assert server.model.fp_view(1).nozzles[1].price_fen == 845
    assert second["result"] == "bad-argument" and "not a writable point" in second["detail"]
