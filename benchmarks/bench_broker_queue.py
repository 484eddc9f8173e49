"""How much a real Mosquitto keeps for an absent QoS 1 subscriber: its default queue vs ``forecourt mqtt-auth``'s.

An ingest outage of 10 s at 15,000 points/s is 150,000 messages the broker must hold (the edge has already
deleted them from its outbox). Both runs use the generated password file, ACL and conf; the baseline adds
Mosquitto's default queue lines back (``max_queued_messages 1000``, no byte limit). Skipped when
``mosquitto`` is not on PATH.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from benchmarks.figures import Figure
from forecourt.local import free_port
from forecourt.mqtt_security import Listener, generate

MESSAGES = 150_000
PAYLOAD = b"x" * 40          # about one small DDATA
GROUP = "bench"


def _login(out: Path, name: str) -> tuple[str, str]:
    url = next(line.partition("=")[2] for line in (out / f"{name}.env").read_text().splitlines()
               if line.startswith("FORECOURT_MQTT_URL="))
    parts = urlsplit(url)
    return parts.username or "", parts.password or ""


def _client(port: int, login: tuple[str, str], client_id: str, clean: bool) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.username_pw_set(*login)
    client.max_inflight_messages_set(1000)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=clean, properties=properties)
    client.loop_start()
    return client


def _kept(extra_conf: str) -> int:
    """Start Mosquitto on the generated files (+ ``extra_conf``), queue MESSAGES for an absent subscriber, count
    what it receives when it comes back."""
    work = Path(tempfile.mkdtemp(prefix="forecourt-bench-queue-"))
    station = work / "st-01.yaml"
    station.write_text("station: st-01\ndevices: []\n")
    port, out = free_port(), work / "mqtt"
    generate([station], out, group=GROUP, host_id="forecourt", listener=Listener("127.0.0.1", port))
    with (out / "mosquitto.conf").open("a") as conf:
        conf.write(extra_conf + ("user root\n" if os.geteuid() == 0 else ""))   # keep our uid: it owns the files
    broker = subprocess.Popen([shutil.which("mosquitto") or "mosquitto", "-c", str(out / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        ingest, edge = _login(out, "ingest"), _login(out, "st-01")
        away = _client(port, ingest, "bench-ingest", clean=True)
        away.subscribe(f"spBv1.0/{GROUP}/#", qos=1)
        time.sleep(0.3)
        away.disconnect()
        away.loop_stop()
        acked = [0]
        station_client = _client(port, edge, "bench-edge", clean=True)
        station_client.on_publish = lambda *_: acked.__setitem__(0, acked[0] + 1)
        for _ in range(MESSAGES):
            while len(station_client._out_messages) >= 1000:
                time.sleep(0.001)
            station_client.publish(f"spBv1.0/{GROUP}/DDATA/st-01/disp-01", PAYLOAD, qos=1)
        while acked[0] < MESSAGES:
            time.sleep(0.05)
        station_client.disconnect()
        station_client.loop_stop()
        received, last = [0], [time.monotonic()]

        def on_message(*_: object) -> None:
            received[0] += 1
            last[0] = time.monotonic()

        back = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-ingest", protocol=paho.MQTTv5)
        back.username_pw_set(*ingest)
        back.on_message = on_message
        back.connect("127.0.0.1", port, clean_start=False)
        back.loop_start()
        while time.monotonic() - last[0] < 3:
            time.sleep(0.2)
        back.disconnect()
        back.loop_stop()
        return received[0]
    finally:
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def run() -> list[Figure]:
    if shutil.which("mosquitto") is None:
        return []
    default = _kept("max_queued_messages 1000\nmax_queued_bytes 0\n")
    generated = _kept("")
    return [Figure("messages kept for an absent subscriber", generated, "messages", default,
                   "Mosquitto's default queue", f"{MESSAGES} QoS 1 messages sent while the subscriber was away")]
