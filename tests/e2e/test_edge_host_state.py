"""Issue 12, item 2, edge side, with a real ``forecourt edge`` process on a real broker: a STATE older than the
newest one seen does not end the session, a Rebirth NCMD sent by alias only is answered, and bdSeq counts on
across a restart instead of starting again at 0."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiomqtt
import pytest

from forecourt.local import free_port
from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.session import host_state
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType
from tests.support.mqtt import Recorder, recording
from tests.support.station import dispenser

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _births(rec: Recorder) -> list[Payload]:
    return [p for t, p in rec.sparkplug() if t.message_type is MessageType.NBIRTH]


def _deaths(rec: Recorder) -> int:
    return sum(1 for t, _ in rec.sparkplug() if t.message_type is MessageType.NDEATH)


def _bd_seq(payload: Payload) -> int:
    return next(int(m.value) for m in payload.metrics if m.name == "bdSeq")  # type: ignore[arg-type]


async def _stop(edge: subprocess.Popen[bytes]) -> None:
    edge.send_signal(signal.SIGINT)
    try:
        await asyncio.to_thread(edge.wait, 15)
    except subprocess.TimeoutExpired:
        edge.kill()
        edge.wait(5)


async def test_old_state_alias_rebirth_and_bd_seq_across_a_restart(broker: BrokerAddress, group: str,
                                                                   tmp_path: Path) -> None:
    host = f"h-{group}"
    state = topics.state_topic(host)
    async with dispenser() as server, recording(broker, topics.group_filter(group)) as rec, \
            aiomqtt.Client(**broker.client_kwargs()) as primary:
        config = tmp_path / "st-01.yaml"
        config.write_text(f"station: st-01\ndevices:\n  - code: disp-01\n    port: {server.port}\n"
                          "    profile: dispenser-v1\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
        env |= {"FORECOURT_MQTT_URL": broker.url(), "FORECOURT_MQTT_V5": "true" if broker.mqtt5 else "false",
                "FORECOURT_GROUP": group, "FORECOURT_PRIMARY_HOST_ID": host,
                "FORECOURT_DATA_DIR": str(tmp_path / "data"), "FORECOURT_EDGE_METRICS_PORT": str(free_port())}
        log = tmp_path / "edge.log"

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen([sys.executable, "-m", "forecourt.cli", "edge", "--station", str(config)],
                                    env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                                    cwd=Path(__file__).parents[2])

        await primary.publish(state, host_state(True, 5000), qos=1, retain=True)
        edge = start()
        try:
            await rec.wait_until(lambda: len(_births(rec)) == 1, within_s=90)
            await primary.publish(state, b'{"online": false, "timestamp": 1000}', qos=1, retain=True)
            await asyncio.sleep(2)
            assert _deaths(rec) == 0, "a STATE older than the newest seen does not end the session"

            rebirth_alias = next(m.alias for m in _births(rec)[0].metrics if m.name == "Node Control/Rebirth")
            await primary.publish(topics.node_topic(group, MessageType.NCMD, "st-01"), sparkplug.encode(
                Payload(6000, None, (Metric(None, rebirth_alias, 6000, DataType.BOOLEAN, True),))), qos=1)
            await rec.wait_until(lambda: len(_births(rec)) == 2, within_s=20)

            await primary.publish(state, host_state(False, 5000), qos=1, retain=True)
            await rec.wait_until(lambda: _deaths(rec) == 1, within_s=20)   # the current host's offline counts
            first_run = _bd_seq(_births(rec)[-1])

            await primary.publish(state, host_state(True, 7000), qos=1, retain=True)
            await rec.wait_until(lambda: len(_births(rec)) == 3, within_s=30)
            second_session = _bd_seq(_births(rec)[-1])
            await _stop(edge)
            edge = start()                                                  # a new process, same outbox
            await rec.wait_until(lambda: len(_births(rec)) == 4, within_s=90)
            after_restart = _bd_seq(_births(rec)[-1])
        finally:
            await _stop(edge)
            await primary.publish(state, b"", qos=1, retain=True)
    assert second_session == (first_run + 1) % 256, "each CONNECT takes the next bdSeq"
    assert after_restart == (second_session + 1) % 256, "a restart continues the count, not 0 again"
