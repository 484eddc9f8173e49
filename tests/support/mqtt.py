"""Test helpers: record what a broker carries, decoded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiomqtt

from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.sparkplug import Payload


@dataclass
class Recorder:
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def sparkplug(self) -> list[tuple[topics.SparkplugTopic, Payload]]:
        out = []
        for topic, raw in self.messages:
            with contextlib.suppress(topics.TopicError):
                out.append((topics.parse(topic), sparkplug.decode(raw)))
        return out

    async def wait_until(self, predicate: object, within_s: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not predicate():  # type: ignore[operator]
            if loop.time() > deadline:
                raise TimeoutError("the expected MQTT traffic did not arrive")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def recording(broker: BrokerAddress, topic_filter: str) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    async with aiomqtt.Client(**broker.client_kwargs()) as client:
        await client.subscribe(topic_filter, qos=1)

        async def pump() -> None:
            async for m in client.messages:
                recorder.messages.append((str(m.topic), bytes(m.payload)))  # type: ignore[arg-type]
                recorder.arrived.set()

        task = asyncio.create_task(pump())
        try:
            yield recorder
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
