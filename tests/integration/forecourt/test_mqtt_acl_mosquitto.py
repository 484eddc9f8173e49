"""A real Mosquitto run on the generated password file, ACL and conf: each station publishes only as itself
(the broker is started by ``tests/support/mosquitto.py``)."""

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge_nodes.runtime import EdgeNode
from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import SET_PRICE, command_topic
from telemetry.contracts.session import host_state
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType
from tests.support.mosquitto import HOST_ID, MOSQUITTO, Secured, mosquitto
from tests.support.mqtt import recording
from tests.support.station import dispenser, station_for

OPENSSL = shutil.which("openssl")
pytestmark = [pytest.mark.integration, pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not on PATH")]
NOT_AUTHORIZED = 135   # MQTT v5 reason code, in PUBACK and CONNACK


@pytest.fixture(scope="module")
def secured() -> Iterator[Secured]:
    work = Path(tempfile.mkdtemp(prefix="forecourt-mqtt-acl-"))
    try:
        with mosquitto(work) as broker:
            yield broker
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ddata(group: str, station: str) -> str:
    return topics.device_topic(group, MessageType.DDATA, station, "disp-01")


async def test_a_station_publishes_as_itself_and_the_host_receives_it(secured: Secured) -> None:
    own = _ddata(secured.group, "st-01")
    shared = topics.shared(topics.group_filter(secured.group), "ingest")    # as ingest subscribes
    async with recording(secured.address("ingest"), shared) as rec, \
            aiomqtt.Client(**secured.address("st-01").client_kwargs()) as edge:
        await edge.publish(own, b"reading", qos=1)
        await edge.publish(topics.node_topic(secured.group, MessageType.NBIRTH, "st-01"), b"birth", qos=1)
        await rec.wait_until(lambda: len(rec.messages) == 2)
    assert rec.messages == [(own, b"reading"), (f"spBv1.0/{secured.group}/NBIRTH/st-01", b"birth")]


def _puback_reasons(address: BrokerAddress, topic_list: list[str]) -> list[int]:
    """Publish each at QoS 1 with paho (aiomqtt drops the PUBACK's reason code) and return the reason codes."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.username_pw_set(address.username, address.password)
    acks: dict[int, int] = {}
    acked = threading.Condition()

    def on_publish(_c: object, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with acked:
            acks[mid] = reason.value
            acked.notify_all()

    client.on_publish = on_publish
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        mids = [client.publish(t, b"forged", qos=1).mid for t in topic_list]
        with acked:
            assert acked.wait_for(lambda: all(m in acks for m in mids), 10), "no PUBACK"
        return [acks[m] for m in mids]
    finally:
        client.disconnect()
        client.loop_stop()


async def test_publishing_under_another_station_is_refused(secured: Secured) -> None:
    g = secured.group
    forged = [_ddata(g, "st-02"), topics.node_topic(g, MessageType.NBIRTH, "st-02"),
              topics.node_topic(g, MessageType.NCMD, "st-01"),           # commands come only from the host
              topics.state_topic(HOST_ID), topics.event_topic(g, "st-02", "fuelling.completed")]
    edge = secured.address("st-01")
    reasons = await asyncio.to_thread(_puback_reasons, edge, [*forged, _ddata(g, "st-01")])
    assert reasons == [NOT_AUTHORIZED] * len(forged) + [16]   # 16: accepted, no matching subscribers

    # what the host sees: the forged message is never delivered; the marker sent after it is
    async with recording(secured.address("ingest"), "spBv1.0/#") as rec, \
            aiomqtt.Client(**edge.client_kwargs()) as client:
        await client.publish(_ddata(g, "st-02"), b"forged", qos=1)
        await client.publish(_ddata(g, "st-01"), b"marker", qos=1)
        await rec.wait_until(lambda: rec.messages)
    assert rec.messages == [(_ddata(g, "st-01"), b"marker")]


async def test_a_station_receives_only_its_own_commands(secured: Secured) -> None:
    g = secured.group
    received: list[str] = []
    async with aiomqtt.Client(**secured.address("st-01").client_kwargs()) as edge, \
            aiomqtt.Client(**secured.address("ingest").client_kwargs()) as host, \
            aiomqtt.Client(**secured.address("control-api").client_kwargs()) as api:
        # Mosquitto 2.0 grants the subscription but checks every delivery against the ACL
        await edge.subscribe(topics.node_topic(g, MessageType.NCMD, "+"), qos=1)
        await edge.subscribe(f"{topics.EVENTS_ROOT}/+/+/commands/#", qos=1)
        await host.publish(topics.node_topic(g, MessageType.NCMD, "st-02"), b"for st-02", qos=1)
        await api.publish(command_topic(g, "st-02", SET_PRICE), b"for st-02", qos=1)
        await api.publish(command_topic("other-co", "st-01", SET_PRICE), b"another company's st-01", qos=1)
        await host.publish(topics.node_topic(g, MessageType.NCMD, "st-01"), b"for st-01", qos=1)
        await api.publish(command_topic(g, "st-01", SET_PRICE), b"for st-01", qos=1)
        async with asyncio.timeout(10):
            async for message in edge.messages:
                received.append(str(message.topic))
                if len(received) == 2:
                    break
    assert received == [topics.node_topic(g, MessageType.NCMD, "st-01"), command_topic(g, "st-01", SET_PRICE)]


@pytest.mark.parametrize("change", [{"password": "wrong"}, {"username": None, "password": None},
                                    {"username": "edge-st-02"}])   # st-01's password for st-02
async def test_a_wrong_login_cannot_connect(secured: Secured, change: dict[str, object]) -> None:
    with pytest.raises(aiomqtt.MqttCodeError) as refused:   # aiomqtt's MqttConnectError, not exported
        async with aiomqtt.Client(**secured.address("st-01", **change).client_kwargs()):
            pass
    assert isinstance(refused.value.rc, ReasonCode) and refused.value.rc.value == NOT_AUTHORIZED


async def test_the_edge_node_runs_within_its_acl(secured: Secured) -> None:
    """The real edge node: waits for the host's STATE, births, publishes, obeys a rebirth, dies cleanly."""
    g, host = secured.group, secured.address("ingest")
    log_from = secured.log.stat().st_size
    async with dispenser() as server, recording(host, topics.group_filter(g)) as rec, \
            aiomqtt.Client(**host.client_kwargs()) as primary:
        await primary.publish(topics.state_topic(HOST_ID), host_state(True, 1), qos=1, retain=True)
        node = EdgeNode(station_for(server, code="st-01"), secured.address("st-01"), group=g, primary_host=HOST_ID)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await rec.wait_until(lambda: any("/DBIRTH/st-01/" in t for t, _ in rec.messages))
            rebirth = Payload(0, None, (Metric("Node Control/Rebirth", None, 0, DataType.BOOLEAN, True),))
            await primary.publish(topics.node_topic(g, MessageType.NCMD, "st-01"), sparkplug.encode(rebirth), qos=1)
            await rec.wait_until(lambda: sum(t.endswith("/NBIRTH/st-01") for t, _ in rec.messages) == 2)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await primary.publish(topics.state_topic(HOST_ID), b"", qos=1, retain=True)
        await rec.wait_until(lambda: rec.messages[-1][0].endswith("/NDEATH/st-01"))
    kinds = [t.message_type for t, _ in rec.sparkplug()]
    assert kinds[:2] == [MessageType.NBIRTH, MessageType.DBIRTH] and kinds[-1] is MessageType.NDEATH
    with secured.log.open("rb") as log:
        log.seek(log_from)
        assert b"Denied" not in log.read()      # nothing the edge node sends or subscribes to is refused


# --- TLS ---------------------------------------------------------------------------------------------

def _make_certificates(tls: Path) -> None:
    """A CA and a server certificate for localhost / 127.0.0.1, signed by it (openssl CLI)."""
    tls.mkdir()

    def run(*args: str) -> None:
        subprocess.run([OPENSSL or "openssl", *args], cwd=tls, check=True, capture_output=True)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Forecourt test CA")
    run("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (tls / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext")


@pytest.fixture(scope="module")
def secured_tls() -> Iterator[Secured]:
    if OPENSSL is None:
        pytest.skip("openssl is not on PATH: cannot make test certificates")
    work = Path(tempfile.mkdtemp(prefix="forecourt-mqtt-tls-"))
    try:
        _make_certificates(work / "tls")
        with mosquitto(work, tls=True) as broker:
            yield broker
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def test_over_tls_a_station_publishes_and_the_host_receives(secured_tls: Secured) -> None:
    edge, host = secured_tls.address("st-01"), secured_tls.address("ingest")
    assert edge.tls and edge.ca_file and edge.url().startswith("mqtts://localhost:")
    own = _ddata(secured_tls.group, "st-01")
    async with recording(host, "spBv1.0/#") as rec, aiomqtt.Client(**edge.client_kwargs()) as client:
        await client.publish(_ddata(secured_tls.group, "st-02"), b"forged", qos=1)
        await client.publish(own, b"reading", qos=1)
        await rec.wait_until(lambda: rec.messages)
    assert rec.messages == [(own, b"reading")]


@pytest.mark.parametrize("change", [{"ca_file": None},   # the system CAs do not know our CA
                                    {"tls": False}])      # plain MQTT to the TLS listener
async def test_over_tls_an_unverified_or_plain_client_cannot_connect(secured_tls: Secured,
                                                                     change: dict[str, object]) -> None:
    address = secured_tls.address("st-01", **change)
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(**address.client_kwargs(), timeout=1):
            pass


async def test_refused_data_stays_in_the_outbox(secured: Secured) -> None:
    """A station misconfigured to publish as another station: the broker refuses, and nothing is thrown away."""
    g, host = secured.group, secured.address("ingest")
    async with dispenser(speed=8.0) as server, aiomqtt.Client(**host.client_kwargs()) as primary:
        await primary.publish(topics.state_topic(HOST_ID), host_state(True, 1), qos=1, retain=True)
        node = EdgeNode(station_for(server, code="st-02"), secured.address("st-01"), group=g, primary_host=HOST_ID)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            server.model.lift_nozzle(1, 1)
            server.model.authorise(1)                       # values change: DDATA to publish
            for _ in range(100):
                if node.refused:
                    break
                await asyncio.sleep(0.1)
            rows, _ = await node.outbox.size()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await primary.publish(topics.state_topic(HOST_ID), b"", qos=1, retain=True)
    assert node.refused > 0, "the broker's refusals are seen"
    assert rows > 0, "refused data is kept for when the login is fixed, not deleted as delivered"
