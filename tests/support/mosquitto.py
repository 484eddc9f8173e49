"""A real Mosquitto configured only with the files ``forecourt mqtt-auth`` generates, for tests.

Mosquitto started as root drops to the ``mosquitto`` user (else ``nobody``) *before* it reads the password
file, the ACL and the TLS key, so under root the folder is handed to that user, as the deployment guide says
to (``docs/how-to/mqtt-security.md``). pytest's own temp folders are mode 0700 under root, so callers give a
folder of their own (``tempfile.mkdtemp``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from dotenv import dotenv_values

from forecourt.local import free_port
from forecourt.mqtt_security import Listener, generate
from telemetry.contracts.broker import BrokerAddress

MOSQUITTO = shutil.which("mosquitto")
HOST_ID = "forecourt"


@dataclass
class Secured:
    out: Path
    group: str
    log: Path

    def address(self, name: str, **changes: object) -> BrokerAddress:
        """The broker as the process with ``<name>.env`` sees it (``changes`` override fields)."""
        env = dotenv_values(self.out / f"{name}.env")
        address = BrokerAddress.from_url(env["FORECOURT_MQTT_URL"] or "", ca_file=env.get("FORECOURT_MQTT_CA_FILE"))
        return replace(address, **changes)  # type: ignore[arg-type]


def hand_to_broker_user(folder: Path) -> None:
    if os.geteuid() != 0:
        return                       # mosquitto keeps our uid and reads our 0600 files
    for name in ("mosquitto", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            break
    for root, _, files in os.walk(folder):
        for path in (root, *(os.path.join(root, f) for f in files)):
            os.chown(path, entry.pw_uid, entry.pw_gid)


@contextlib.contextmanager
def mosquitto(work: Path, tls: bool = False, stations: tuple[str, ...] = ("st-01", "st-02"),
              extra_conf: str = "") -> Iterator[Secured]:
    """Generate the files for these stations with ``forecourt mqtt-auth``'s code and run Mosquitto on them
    (``extra_conf`` lines are appended to the generated ``mosquitto.conf``; leave it empty to test the files)."""
    files = []
    for code in stations:
        files.append(work / f"{code}.yaml")
        files[-1].write_text(f"station: {code}\ndevices: []\n")
    group, port, out = f"t{uuid.uuid4().hex[:10]}", free_port(), work / "mqtt"
    generate(files, out, group=group, host_id=HOST_ID, listener=Listener(
        "localhost" if tls else "127.0.0.1", port, work / "tls" if tls else None, bind_address="127.0.0.1"))
    if extra_conf:
        with (out / "mosquitto.conf").open("a") as conf:
            conf.write(extra_conf)
    hand_to_broker_user(work)
    log = work / "mosquitto.log"
    with running(out / "mosquitto.conf", port, log, "-v"):
        yield Secured(out, group, log)


@contextlib.contextmanager
def running(conf: Path, port: int, log: Path, *options: str) -> Iterator[None]:
    """Mosquitto on ``conf`` until the block ends, once it listens on ``port`` (its output appended to ``log``)."""
    with log.open("ab") as sink:
        process = subprocess.Popen([MOSQUITTO or "mosquitto", "-c", str(conf), *options],
                                   stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, f"mosquitto stopped: {log.read_text()}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, f"mosquitto did not listen: {log.read_text()}"
            time.sleep(0.05)
        yield
    finally:
        process.terminate()   # mosquitto writes its persistence file on SIGTERM
        process.wait(10)
