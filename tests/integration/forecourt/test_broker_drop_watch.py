"""A broker that drops messages is noticed: a real Mosquitto whose queue for an absent subscriber is too small
drops QoS 1 messages, and ``DropWatch`` (on the ingest login, as the ingest service runs it) says so."""

import asyncio
import contextlib
import logging
import shutil
import tempfile
from pathlib import Path

import aiomqtt
import pytest

from forecourt.broker_watch import REGISTRY, DropWatch
from protocol_adapters.mqtt.client import persistent_session
from telemetry.contracts import topics
from telemetry.contracts.topics import MessageType
from tests.support.mosquitto import MOSQUITTO, mosquitto

pytestmark = [pytest.mark.integration, pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not on PATH")]


async def test_dropped_messages_are_a_warning_and_a_metric(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="forecourt.broker_watch")
    seen_before = REGISTRY.get_sample_value("forecourt_broker_dropped_seen_total") or 0
    work = Path(tempfile.mkdtemp(prefix="forecourt-drops-"))
    try:
        # the generated limits, then a deliberately tiny queue (the later line wins) and $SYS every second
        with mosquitto(work, extra_conf="max_queued_messages 5\nmax_queued_bytes 0\nsys_interval 1\n") as broker:
            ingest, edge = broker.address("ingest"), broker.address("st-01")
            async with aiomqtt.Client(**ingest.client_kwargs(), **persistent_session("absent-ingest")) as absent:
                await absent.subscribe(topics.group_filter(broker.group), qos=1)      # then it goes away
            async with aiomqtt.Client(**edge.client_kwargs()) as station:
                for n in range(20):
                    await station.publish(topics.device_topic(broker.group, MessageType.DDATA, "st-01", "disp-01"),
                                          str(n).encode(), qos=1)
            watch = DropWatch(ingest, client_id="ingest-drops")
            task = asyncio.create_task(watch.run())
            try:
                async with asyncio.timeout(15):
                    while not watch.reported:
                        await asyncio.sleep(0.1)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert watch.reported == 15                       # 20 sent, 5 queued
    assert REGISTRY.get_sample_value("forecourt_broker_dropped_messages") == 15
    assert REGISTRY.get_sample_value("forecourt_broker_dropped_seen_total") == seen_before + 15
    [warning] = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert "dropped 15 message(s)" in warning


async def test_the_generated_limits_keep_more_than_mosquittos_default_1000() -> None:
    """An absent subscriber gets all 1,500 messages sent meanwhile (Mosquitto's default keeps 1,000, drops 500)."""
    work = Path(tempfile.mkdtemp(prefix="forecourt-queue-"))
    sent = 1_500
    try:
        with mosquitto(work, extra_conf="sys_interval 1\n") as broker:
            ingest, edge = broker.address("ingest"), broker.address("st-01")
            ddata = topics.device_topic(broker.group, MessageType.DDATA, "st-01", "disp-01")
            async with aiomqtt.Client(**ingest.client_kwargs(), **persistent_session("away-ingest")) as away:
                await away.subscribe(topics.group_filter(broker.group), qos=1)
            async with aiomqtt.Client(**edge.client_kwargs()) as station:
                for n in range(sent):
                    await station.publish(ddata, str(n).encode(), qos=1)
            received: list[int] = []
            async with aiomqtt.Client(**ingest.client_kwargs(), **persistent_session("away-ingest")) as back:
                async with asyncio.timeout(20):
                    async for message in back.messages:
                        received.append(int(bytes(message.payload).decode()))  # type: ignore[arg-type]
                        if len(received) == sent:
                            break
            watch = DropWatch(ingest, client_id="ingest-drops")
            task = asyncio.create_task(watch.run())
            try:
                async with asyncio.timeout(15):
                    while watch.reported is None:
                        await asyncio.sleep(0.1)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert sorted(received) == list(range(sent))
    assert watch.reported == 0
