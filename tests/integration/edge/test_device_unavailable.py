"""A Modbus device that stops answering: bad quality with a reason, a log line, and recovery by itself."""

import asyncio
import contextlib
import logging

import pytest

from edge_nodes.runtime import EdgeNode
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.quality import Quality
from telemetry.contracts.topics import MessageType
from tests.support.mqtt import recording
from tests.support.station import dispenser, station_for

pytestmark = pytest.mark.integration


def _qualities(rec: object) -> list[tuple[Quality, str]]:
    out = []
    for t, p in rec.sparkplug():  # type: ignore[attr-defined]
        if t.message_type is MessageType.DDATA:
            out += [(m.quality, m.quality_reason) for m in p.metrics]
    return out


async def test_unplugged_device_goes_bad_and_comes_back(broker: BrokerAddress, group: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge_nodes")
    async with dispenser() as server, recording(broker, topics.group_filter(group)) as rec:
        node = EdgeNode(station_for(server, poll_s=0.1), broker, group=group)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await rec.wait_until(lambda: node.current["disp-01"].get("fp1/state") is not None
                                 and node.current["disp-01"]["fp1/state"].quality is Quality.GOOD)

            await server.go_offline()     # the cable is pulled: connections are refused
            await rec.wait_until(lambda: (Quality.BAD, "comm-loss") in _qualities(rec))
            bad = node.current["disp-01"]["fp1/volume"]
            assert bad.quality is Quality.BAD and bad.value is None and bad.reason == "comm-loss"
            assert any("unavailable" in r.getMessage() for r in caplog.records)

            await rec.wait_until(lambda: any(t.endswith("/DDEATH/st-01/disp-01") for t, _ in rec.messages))

            await server.go_online()      # plugged back in: no restart of the edge node
            await rec.wait_until(lambda: _qualities(rec)[-1][0] is Quality.GOOD, within_s=40)
            assert node.current["disp-01"]["fp1/volume"].quality is Quality.GOOD
            kinds = [t.message_type for t, _ in rec.sparkplug() if t.device == "disp-01"]
            death = kinds.index(MessageType.DDEATH)
            assert MessageType.DBIRTH in kinds[death:], "a DBIRTH follows the DDEATH when the device is back"
            rebirth = death + kinds[death:].index(MessageType.DBIRTH)
            assert MessageType.DDATA in kinds[rebirth:], "and fresh data after it"
            assert any("answers again" in r.getMessage() for r in caplog.records)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
