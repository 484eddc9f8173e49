"""Head office's Mosquitto configuration (deploy/head-office/mosquitto/) on a real Mosquitto.

The file includes what ``forecourt mqtt-auth`` writes (with persistence in the folder the compose file's
mqtt-auth service names): a QoS 1 message queued for an ingest worker that is away (its persistent session
on the shared subscription) must survive a restart of the broker. The container paths are swapped for
folders of the test's own; the rest of the file is used as it is. Like ``test_mqtt_acl_mosquitto.py``, the
files go to the broker's user under root.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import aiomqtt
import pytest
from dotenv import dotenv_values

from forecourt.local import free_port
from forecourt.mqtt_security import Listener, generate
from protocol_adapters.mqtt.client import persistent_session
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import MessageType
from tests.support.mosquitto import MOSQUITTO, hand_to_broker_user, running

pytestmark = [pytest.mark.integration, pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not on PATH"),
              pytest.mark.serial]
ROOT = Path(__file__).resolve().parents[3]
CONF = ROOT / "deploy" / "head-office" / "mosquitto" / "mosquitto.conf"
COMPOSE = ROOT / "deploy" / "head-office" / "compose.yaml"
CONTAINER_DATA, CONTAINER_AUTH = "/mosquitto/data", "include_dir /etc/forecourt/mqtt"


@pytest.fixture
def work() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="forecourt-deploy-mqtt-"))   # pytest's temp root is 0700 under root
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_message_queued_for_an_absent_ingest_worker_survives_a_broker_restart(work: Path) -> None:
    port, group = free_port(), "acme-energy"
    # the compose file's mqtt-auth service names the broker's data folder; here it is a folder of the test's own
    assert f'"--persistence-dir", "{CONTAINER_DATA}"' in COMPOSE.read_text()
    generate([ROOT / "config" / "stations" / "demo.yaml"], work / "mqtt", group=group, host_id="forecourt",
             listener=Listener("127.0.0.1", port, bind_address="127.0.0.1"), persistence_dir=work / "data")
    text = CONF.read_text()
    assert CONTAINER_AUTH in text
    (work / "data").mkdir()
    conf = work / "mosquitto.conf"
    conf.write_text(text.replace(CONTAINER_AUTH, f"include_dir {work / 'mqtt'}"))
    hand_to_broker_user(work)

    def login(name: str) -> BrokerAddress:
        env = dotenv_values(work / "mqtt" / f"{name}.env")
        return replace(BrokerAddress.from_url(env["FORECOURT_MQTT_URL"] or ""), mqtt5=True)

    ingest_filter = topics.shared(topics.group_filter(group), "ingest")
    ndata = topics.node_topic(group, MessageType.NDATA, "demo-01")
    session = persistent_session("forecourt-ingest-test-1")   # as an ingest worker asks for it
    log = conf.parent / "mosquitto.log"
    with running(conf, port, log):
        async with aiomqtt.Client(**login("ingest").client_kwargs(), **session) as ingest:
            await ingest.subscribe(ingest_filter, qos=1)
        async with aiomqtt.Client(**login("demo-01").client_kwargs()) as edge:   # the worker is away
            await edge.publish(ndata, b"while the worker restarts", qos=1)
    with running(conf, port, log):                                                   # the broker restarted
        async with aiomqtt.Client(**login("ingest").client_kwargs(), **session) as ingest:
            message = await asyncio.wait_for(anext(aiter(ingest.messages)), 10)
    assert (str(message.topic), message.payload) == (ndata, b"while the worker restarts")
