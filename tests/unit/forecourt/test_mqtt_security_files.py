"""The generated password file, ACL, mosquitto.conf and env files, checked without a broker."""

import base64
import itertools
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from paho.mqtt.client import topic_matches_sub

from edge_nodes.station import Station
from forecourt.mqtt_security import (
    DROPPED_TOPIC,
    Account,
    Listener,
    MqttSecurityError,
    build,
    check_password,
    edge_grants,
    hash_password,
    host_grants,
    known_passwords,
    write,
)
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import ACKNOWLEDGED, SET_PRICE, command_topic
from telemetry.contracts.events.alarms import ACKNOWLEDGE_ALARM, ALARM_RAISED
from telemetry.contracts.topics import MessageType

OUT = Path("/etc/mosquitto/forecourt")


def _stations(*codes: str, group: str | None = None) -> list[Station]:
    return [Station(station=c, group=group, devices=[]) for c in codes]


def _counter() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"pw-{next(numbers)}"


# --- hashes ------------------------------------------------------------------------------------------

def test_hash_is_byte_for_byte_what_mosquitto_passwd_writes() -> None:
    # `mosquitto_passwd -c -b passwd alice secret` (Mosquitto 2.0.11) wrote this line
    line = ("alice:$7$101$OZQeSNzt4YcrFfFA$qWbCYaTcAuZ8aCWKXnb0C+85jIS8sephdS25Q6aIJ5MdhjWAjnXlhQoWITnSgVGQgFjcRvLaC0"
            "XDYU48HQV0jg==")
    user, _, hashed = line.partition(":")
    salt = base64.b64decode(hashed.split("$")[3])
    assert f"{user}:{hash_password('secret', salt)}" == line
    assert check_password("secret", hashed)
    assert not check_password("Secret", hashed)


@pytest.mark.parametrize("hashed", [
    "", "plain", "$6$abc$def", "$7$x$AAAA$AAAA", "$7$101$not base64!$AAAA", "$7$101$AAAA",
])
def test_malformed_hashes_never_match(hashed: str) -> None:
    assert not check_password("secret", hashed)


def test_every_hash_has_its_own_salt() -> None:
    a, b = hash_password("same"), hash_password("same")
    assert a != b and check_password("same", a) and check_password("same", b)
    assert a.startswith("$7$101$") and len(base64.b64decode(a.split("$")[3])) == 12


# --- grants ------------------------------------------------------------------------------------------

def _may(grants: tuple[tuple[str, str], ...], access: str, topic: str) -> bool:
    """Mosquitto's rule for one user block: some grant with this access matches the topic."""
    return any(a in (access, "readwrite") and topic_matches_sub(f, topic) for a, f in grants)


def test_an_edge_node_may_publish_every_message_of_its_own_station_and_nothing_else() -> None:
    grants = edge_grants("st-01", "acme", "forecourt")
    own = [topics.node_topic("acme", t, "st-01") for t in (MessageType.NBIRTH, MessageType.NDATA, MessageType.NDEATH)]
    own += [topics.device_topic("acme", t, "st-01", "disp-01")
            for t in (MessageType.DBIRTH, MessageType.DDATA, MessageType.DDEATH)]
    own.append(topics.event_topic("acme", "st-01", "fuelling.completed"))
    assert all(_may(grants, "write", t) for t in own)
    refused = [
        topics.node_topic("acme", MessageType.NBIRTH, "st-02"),               # another station
        topics.device_topic("acme", MessageType.DDATA, "st-02", "disp-01"),
        topics.device_topic("acme", MessageType.DDATA, "st-01x", "disp-01"),  # a prefix is not the station
        topics.node_topic("other", MessageType.NDATA, "st-01"),               # another company
        topics.node_topic("acme", MessageType.NCMD, "st-01"),                 # commands come from the host
        topics.device_topic("acme", MessageType.DCMD, "st-01", "disp-01"),
        topics.state_topic("forecourt"),                                      # the host's state
        topics.event_topic("acme", "st-02", "fuelling.completed"),          # another station's event
        topics.event_topic("other", "st-01", "fuelling.completed"),         # the same code in another company
        command_topic("acme", "st-01", SET_PRICE),                         # commands come from the host
        "spBv1.0/acme/DDATA/st-01/disp-01/extra",                             # not a Sparkplug topic
    ]
    assert not any(_may(grants, "write", t) for t in refused)


def test_an_edge_node_reads_its_own_commands_and_the_host_state_only() -> None:
    grants = edge_grants("st-01", "acme", "forecourt")
    assert _may(grants, "read", topics.node_topic("acme", MessageType.NCMD, "st-01"))
    assert _may(grants, "read", topics.device_topic("acme", MessageType.DCMD, "st-01", "disp-01"))
    assert _may(grants, "read", topics.state_topic("forecourt"))
    assert _may(grants, "read", command_topic("acme", "st-01", SET_PRICE))
    assert not _may(grants, "read", command_topic("acme", "st-02", SET_PRICE))
    assert not _may(grants, "read", command_topic("other", "st-01", SET_PRICE))
    assert not _may(grants, "read", topics.node_topic("acme", MessageType.NCMD, "st-02"))
    assert not _may(grants, "read", topics.device_topic("acme", MessageType.DDATA, "st-02", "disp-01"))
    assert not _may(grants, "read", topics.state_topic("other-host"))


def test_each_host_service_gets_what_its_job_needs_and_nothing_else() -> None:
    ddata = topics.device_topic("any", MessageType.DDATA, "st-09", "tank-1")
    event = topics.event_topic("any", "st-09", "fuelling.completed")
    ack = topics.event_topic("any", "st-09", ACKNOWLEDGED)
    command, ncmd = command_topic("any", "st-09", SET_PRICE), topics.node_topic("any", MessageType.NCMD, "st-09")
    dcmd, state = topics.device_topic("any", MessageType.DCMD, "st-09", "disp-01"), topics.state_topic("forecourt")
    raised = topics.event_topic("any", "st-09", ALARM_RAISED)
    ack_alarm = command_topic("any", "st-09", ACKNOWLEDGE_ALARM)
    wanted = {
        "ingest": {("read", ddata), ("read", ncmd), ("read", dcmd),     # spBv1.0/#: its subscription sees commands
                   ("write", ncmd), ("write", state), ("read", state), ("read", DROPPED_TOPIC)},
        "business": {("read", event), ("read", ack), ("read", DROPPED_TOPIC), ("read", raised)},
        "control-api": {("write", command), ("read", ack), ("write", ack_alarm)},
        "alarms": {("read", raised), ("write", raised), ("write", ack_alarm)},
    }
    everything = [(a, t) for a in ("read", "write") for t in (ddata, event, ack, command, ncmd, dcmd, state,
                                                              DROPPED_TOPIC, raised, ack_alarm)]
    for user, allowed in wanted.items():
        grants = host_grants(user, "forecourt")
        assert {(a, t) for a, t in everything if _may(grants, a, t)} == allowed, user
    assert host_grants("stranger", "forecourt") == ()


# --- the whole set -----------------------------------------------------------------------------------

def test_build_writes_one_user_block_and_env_file_per_station_and_host() -> None:
    stations = [*_stations("st-01"), *_stations("st-02", group="west")]
    bundle = build(stations, OUT, group="acme", host_id="forecourt", listener=Listener("mqtt.example.cn"),
                   new_password=_counter())
    assert [a.username for a in bundle.accounts] == ["edge-st-01", "edge-st-02", "ingest", "business",
                                                     "control-api", "alarms"]
    assert set(bundle.files) == {"passwd", "acl", "mosquitto.conf", "st-01.env", "st-02.env", "ingest.env",
                                 "business.env", "control-api.env", "alarms.env"}
    acl = bundle.files["acl"][0]
    block = acl[acl.index("user edge-st-02\n"):acl.index("user ingest\n")]
    assert "topic write spBv1.0/west/DDATA/st-02/+\n" in block      # the station's own group wins
    assert "st-01" not in block and "acme" not in block

    passwd = dict(line.split(":", 1) for line in bundle.files["passwd"][0].splitlines())
    for account in bundle.accounts:
        env = dict(line.split("=", 1) for line in bundle.files[f"{account.env_name}.env"][0].splitlines()
                   if not line.startswith("#"))
        address = BrokerAddress.from_url(env["FORECOURT_MQTT_URL"])
        assert (address.host, address.port, address.tls) == ("mqtt.example.cn", 1883, False)
        assert address.username == account.username
        assert check_password(address.password or "", passwd[account.username])
        assert env.get("FORECOURT_PRIMARY_HOST_ID") == ("forecourt" if account.username not in (
            "business", "control-api", "alarms") else None)
    assert "FORECOURT_GROUP=west\n" in bundle.files["st-02.env"][0]
    assert "FORECOURT_GROUP=acme\n" in bundle.files["control-api.env"][0]    # the company whose commands it sends
    assert len({a.password for a in bundle.accounts}) == 6


def test_passwords_given_are_kept_and_the_rest_are_new() -> None:
    bundle = build(_stations("st-01", "st-02"), OUT, group="acme", host_id="forecourt", listener=Listener(),
                   passwords={"edge-st-01": "kept"}, new_password=_counter())
    by_user = {a.username: a.password for a in bundle.accounts}
    assert by_user["edge-st-01"] == "kept" and by_user["edge-st-02"] == "pw-1"


def test_conf_without_and_with_tls() -> None:
    plain = build(_stations("st-01"), OUT, group="acme", host_id="forecourt", listener=Listener())
    conf = plain.files["mosquitto.conf"][0]
    assert "allow_anonymous false\n" in conf and "listener 1883 127.0.0.1\n" in conf   # not every interface
    assert f"password_file {OUT}/passwd\n" in conf and f"acl_file {OUT}/acl\n" in conf
    assert "certfile" not in conf

    tls = build(_stations("st-01"), OUT, group="acme", host_id="forecourt",
                listener=Listener("mqtt.example.cn", tls_dir=Path("/etc/mosquitto/tls"), bind_address="10.0.0.5"))
    conf = tls.files["mosquitto.conf"][0]
    assert "listener 8883 10.0.0.5\n" in conf
    for line in ("cafile /etc/mosquitto/tls/ca.crt", "certfile /etc/mosquitto/tls/server.crt",
                 "keyfile /etc/mosquitto/tls/server.key", "tls_version tlsv1.2"):
        assert line + "\n" in conf
    env = tls.files["st-01.env"][0]
    assert "FORECOURT_MQTT_URL=mqtts://edge-st-01:" in env and "@mqtt.example.cn:8883\n" in env
    assert "FORECOURT_MQTT_CA_FILE=/etc/mosquitto/tls/ca.crt\n" in env


@pytest.mark.parametrize(("stations", "group", "host_id", "expect"), [
    (_stations("st-01", "st-01"), "acme", "forecourt", "appears twice"),
    (_stations("ingest"), "acme", "forecourt", "collides"),
    (_stations("st-01"), "ac+me", "forecourt", "group 'ac\\+me'"),
    (_stations("st-01", group="a/b"), "acme", "forecourt", "group 'a/b'"),
    (_stations("st-01"), "acme", "host#1", "host id 'host#1'"),
])
def test_what_cannot_be_generated_is_named(stations: list[Station], group: str, host_id: str, expect: str) -> None:
    with pytest.raises(MqttSecurityError, match=expect):
        build(stations, OUT, group=group, host_id=host_id, listener=Listener())


def test_write_sets_modes_and_known_passwords_reads_them_back(tmp_path: Path) -> None:
    (tmp_path / "st-01.env").write_text("old")
    (tmp_path / "st-01.env").chmod(0o644)
    bundle = build(_stations("st-01"), tmp_path, group="acme", host_id="forecourt", listener=Listener())
    write(bundle, tmp_path)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"passwd": 0o600, "acl": 0o600, "mosquitto.conf": 0o644, "st-01.env": 0o600,
                     "ingest.env": 0o600, "business.env": 0o600, "control-api.env": 0o600, "alarms.env": 0o600}
    assert known_passwords(tmp_path) == {a.username: a.password for a in bundle.accounts}
    assert known_passwords(tmp_path / "missing") == {}


def test_a_password_with_url_characters_survives_the_env_file(tmp_path: Path) -> None:
    awkward = "p@ss:w/rd%"
    account = Account("edge-st-01", awkward, edge_grants("st-01", "acme", "forecourt"), "st-01")
    assert BrokerAddress.from_url(Listener().url(account)).password == awkward
    bundle = build(_stations("st-01"), tmp_path, group="acme", host_id="forecourt", listener=Listener(),
                   passwords={"edge-st-01": awkward})
    write(bundle, tmp_path)
    assert known_passwords(tmp_path)["edge-st-01"] == awkward


def test_queues_hold_what_every_outbox_would_and_the_broker_keeps_them() -> None:
    bundle = build(_stations("st-01", "st-02", "st-03"), OUT, group="acme", host_id="forecourt",
                   listener=Listener(), outbox_bytes=64 * 1024 * 1024)
    conf = bundle.files["mosquitto.conf"][0].splitlines()
    assert f"max_queued_bytes {3 * 64 * 1024 * 1024}" in conf      # three stations' outboxes, in bytes
    assert f"max_queued_messages {3 * 2 * 1024 * 1024}" in conf     # 32-byte messages: the byte bound comes first
    assert "max_inflight_messages 1000" in conf
    assert "persistence true" in conf and f"persistence_location {OUT}/" in conf
