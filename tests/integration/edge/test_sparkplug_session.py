"""The edge node's Sparkplug traffic, decoded off a real broker: births first, seq counts up modulo 256."""

import asyncio
import contextlib
import itertools

import pytest

from edge_nodes.runtime import EdgeNode
from simulators.dispenser.states import PresetType
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import MessageType
from tests.support.mqtt import recording
from tests.support.station import dispenser, station_for

pytestmark = pytest.mark.integration


async def test_births_come_first_and_seq_counts_modulo_256(broker: BrokerAddress, group: str) -> None:
    async with dispenser(speed=20.0) as server, recording(broker, topics.group_filter(group)) as rec:
        node = EdgeNode(station_for(server, poll_s=0.01), broker, group=group)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            server.model.lift_nozzle(1, 1)
            server.model.authorise(1, PresetType.NONE, 0, 1)    # a full tank: values change on every poll
            await rec.wait_until(lambda: len(rec.messages) >= 300, within_s=60)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await rec.wait_until(lambda: rec.messages[-1][0].endswith("/NDEATH/st-01"))

    traffic = rec.sparkplug()
    kinds = [t.message_type for t, _ in traffic]
    assert kinds[0] is MessageType.NBIRTH and kinds[1] is MessageType.DBIRTH
    assert kinds.index(MessageType.DDATA) > kinds.index(MessageType.DBIRTH)
    nbirth = traffic[0][1]
    assert nbirth.seq == 0
    bd_seq = next(m.value for m in nbirth.metrics if m.name == "bdSeq")

    seqs = [p.seq for t, p in traffic if t.message_type is not MessageType.NDEATH]
    assert all(b == (a + 1) % 256 for a, b in itertools.pairwise(seqs)), "seq must count up by one"
    assert any(a == 255 and b == 0 for a, b in itertools.pairwise(seqs)), "seq must wrap at 256"

    dbirth = traffic[1][1]
    assert all(m.name and m.alias and m.datatype for m in dbirth.metrics), "births name every metric"
    assert {m.name for m in dbirth.metrics} >= {"fp1/volume", "fp1/amount", "fp1/nozzle1/volume_total"}
    ddata = [p for t, p in traffic if t.message_type is MessageType.DDATA]
    assert all(m.name is None and m.alias for p in ddata for m in p.metrics), "data messages use aliases only"

    death = traffic[-1][1]
    assert next(m.value for m in death.metrics if m.name == "bdSeq") == bd_seq


async def test_rebirth_command_repeats_the_births(broker: BrokerAddress, group: str) -> None:
    import aiomqtt

    from telemetry.contracts import sparkplug
    from telemetry.contracts.sparkplug import DataType, Metric, Payload

    async with dispenser() as server, recording(broker, topics.group_filter(group)) as rec:
        node = EdgeNode(station_for(server), broker, group=group)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await rec.wait_until(lambda: len(rec.messages) >= 2)
            rebirth = Payload(0, None, (Metric("Node Control/Rebirth", None, 0, DataType.BOOLEAN, True),))
            async with aiomqtt.Client(**broker.client_kwargs()) as cmd:
                await cmd.publish(topics.node_topic(group, MessageType.NCMD, "st-01"), sparkplug.encode(rebirth),
                                  qos=1)
            await rec.wait_until(lambda: sum(t.endswith("/NBIRTH/st-01") for t, _ in rec.messages) == 2)
            await rec.wait_until(lambda: sum("/DBIRTH/" in t for t, _ in rec.messages) == 2)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    births = [p for t, p in rec.sparkplug() if t.message_type is MessageType.NBIRTH]
    assert births[1].seq == 0
