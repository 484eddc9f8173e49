"""MQTT credentials for Mosquitto, generated from the station files: who may connect and what each may touch.

One user per station, ``edge-<station>``, may publish only its own Sparkplug node and device messages and its
own CloudEvents (``forecourt/v1/<group>/<station>/events/#``), and read only its own commands (Sparkplug
NCMD/DCMD and ``…/<group>/<station>/commands/#``) and the primary host's ``STATE``. Each host service has a
login with exactly what its job needs: ``ingest`` reads Sparkplug, asks for rebirths (NCMD) and says ``STATE``;
``business`` reads events; ``control-api`` publishes commands and reads their acknowledgements; ``alarms`` (head
office's alarm engine) publishes and reads ``alarm.*`` events and sends ``command.acknowledge_alarm`` (a station
server's alarm engine uses its station's login: its own events out, its own commands in). ``ingest`` and
``business`` also read the broker's dropped-message counter (``forecourt/broker_watch.py``). Out come:

- ``passwd``: Mosquitto 2.x's password file (PBKDF2-SHA512, ``user:$7$<iterations>$<salt b64>$<hash b64>``,
  the format ``mosquitto_passwd`` writes), mode 0600;
- ``acl``: one ``user`` block per account, mode 0600;
- ``mosquitto.conf``: a listener on one address, ``allow_anonymous false``, the two files above, queue limits
  sized so that the broker holds whatever the edge outboxes would (``QueueLimits``), persistence, TLS lines
  with ``--tls-dir``;
- ``<station>.env``, ``ingest.env``, ``business.env``, ``control-api.env``, ``alarms.env``: the settings each
  process needs
  (``FORECOURT_MQTT_URL`` with its user and password …), mode 0600, for ``forecourt --env-file``.

``build`` makes every text and touches no file; ``write`` and ``known_passwords`` are the only file I/O. Passwords
already in ``<name>.env`` files in the output folder are kept, so adding a station rotates nothing else.
How to deploy it: ``docs/how-to/mqtt-security.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from edge_nodes.station import Station, StationConfigError, load_station
from forecourt.broker_watch import DROPPED_TOPIC
from telemetry.contracts import topics
from telemetry.contracts.commands import ACKNOWLEDGED, commands_filter
from telemetry.contracts.events.alarms import ACKNOWLEDGE_ALARM, ALARM_EVENTS
from telemetry.contracts.topics import MessageType

PBKDF2_ITERATIONS = 101   # mosquitto_passwd's default; the passwords are 192 random bits, not words
SALT_BYTES = 12
HOST_USERS = ("ingest", "business", "control-api", "alarms")
PASSWORD_FILE, ACL_FILE, CONF_FILE = "passwd", "acl", "mosquitto.conf"
CA_FILE, CERT_FILE, KEY_FILE = "ca.crt", "server.crt", "server.key"
SECRET_MODE, PUBLIC_MODE = 0o600, 0o644
DEFAULT_OUTBOX_BYTES = 256 * 1024 * 1024    # FORECOURT_EDGE_OUTBOX_MAX_MB's default
SMALLEST_MESSAGE_BYTES = 32                 # a Sparkplug DDATA with one aliased metric is about this size
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")   # no MQTT wildcards, no '/', no spaces


class MqttSecurityError(ValueError):
    """The credentials cannot be generated as asked; the message says why."""


# --- password hashes -------------------------------------------------------------------------------

def hash_password(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A Mosquitto ``$7$`` hash: PBKDF2-HMAC-SHA512 of the UTF-8 password, 64 bytes, salt and hash in base64."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (as the broker checks it)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, expected = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2])), expected)


# --- accounts and what they may touch --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Account:
    """One broker user: its password, its topic grants (``read``/``write``, filter) and its env file."""

    username: str
    password: str
    grants: tuple[tuple[str, str], ...]
    env_name: str                                   # ``<env_name>.env``
    settings: tuple[tuple[str, str], ...] = ()      # FORECOURT_* lines besides the URL


def edge_username(station: str) -> str:
    return f"edge-{station}"


def edge_grants(station: str, group: str, host_id: str) -> tuple[tuple[str, str], ...]:
    """Publish only this station's node and device messages and events; read its commands and the host."""
    node = [("write", topics.node_topic(group, t, station))
            for t in (MessageType.NBIRTH, MessageType.NDATA, MessageType.NDEATH)]
    device = [("write", topics.device_topic(group, t, station, "+"))
              for t in (MessageType.DBIRTH, MessageType.DDATA, MessageType.DDEATH)]
    return (*node, *device, ("write", topics.events_filter(group, station)),
            ("read", topics.node_topic(group, MessageType.NCMD, station)),
            ("read", topics.device_topic(group, MessageType.DCMD, station, "#")),
            ("read", commands_filter(group, station)),
            ("read", topics.state_topic(host_id)))


def host_grants(user: str, host_id: str) -> tuple[tuple[str, str], ...]:
    """What each host service needs, of every group: nothing more (a user not listed gets nothing)."""
    if user == "ingest":        # Sparkplug in, rebirth requests out, the primary host's STATE
        return (("read", f"{topics.NAMESPACE}/#"), ("write", topics.node_topic("+", MessageType.NCMD, "+")),
                ("readwrite", topics.state_topic(host_id)),
                ("readwrite", topics.host_worker_topic(host_id, "+")),   # workers' presence (ingest/host.py)
                ("read", DROPPED_TOPIC))
    if user == "business":      # every station's events in
        return (("read", topics.events_filter()), ("read", DROPPED_TOPIC))
    if user == "control-api":   # commands out, their acknowledgements in
        return (("write", f"{topics.EVENTS_ROOT}/+/+/{topics.COMMANDS_LEVEL}/#"),
                ("read", topics.events_filter(event_type=ACKNOWLEDGED)))
    if user == "alarms":        # head office's alarm engine: alarm.* out (its stations) and in (the stations'
        return (*(("readwrite", topics.events_filter(event_type=t)) for t in ALARM_EVENTS),  # copies), one
                ("write", f"{topics.EVENTS_ROOT}/+/+/{topics.COMMANDS_LEVEL}/{ACKNOWLEDGE_ALARM}"))  # command down
    return ()


@dataclass(frozen=True, slots=True)
class Listener:
    """Where the broker listens and how clients reach it (the host name goes into every env file's URL)."""

    broker_host: str = "127.0.0.1"
    port: int | None = None           # default 1883, or 8883 with TLS
    tls_dir: Path | None = None       # holds ca.crt, server.crt, server.key
    bind_address: str = "127.0.0.1"   # the one address the broker listens on; 0.0.0.0 = every interface

    @property
    def effective_port(self) -> int:
        return self.port or (8883 if self.tls_dir else 1883)

    def url(self, account: Account) -> str:
        scheme = "mqtts" if self.tls_dir else "mqtt"
        user, password = quote(account.username, safe=""), quote(account.password, safe="")
        return f"{scheme}://{user}:{password}@{self.broker_host}:{self.effective_port}"


# --- file texts ------------------------------------------------------------------------------------

def password_file(accounts: Iterable[Account], salt: Callable[[], bytes] = lambda: os.urandom(SALT_BYTES)) -> str:
    return "".join(f"{a.username}:{hash_password(a.password, salt())}\n" for a in accounts)


def acl_file(accounts: Iterable[Account], header: str) -> str:
    blocks = [f"# {header}\n# No anonymous grants: every client must log in (allow_anonymous false).\n"]
    for a in accounts:
        blocks.append(f"user {a.username}\n" + "".join(f"topic {access} {t}\n" for access, t in a.grants))
    return "\n".join(blocks)


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """How much the broker keeps for a subscriber that is away or slow (ingest down, business restarting).

    An edge node deletes a row from its outbox once the broker has acknowledged it, so from then on the
    broker's queue is the only copy. The queue for one subscriber therefore holds as much as every station's
    outbox would have held: ``stations × outbox_bytes`` of payload, and as many messages as that makes at
    ``SMALLEST_MESSAGE_BYTES`` each, so the byte bound is the one reached first. (``max_queued_messages 0``,
    "no limit", makes Mosquitto 2.0.11 drop a client whose publish it refused.) Mosquitto keeps queues in
    memory, about 150 bytes per message besides the payload: size the machine for it.
    """

    stations: int
    outbox_bytes: int
    inflight: int = 1000            # unacknowledged messages per client; our clients ask for Receive Maximum 1000
    autosave_s: int = 60            # persistence: queues and retained messages are saved this often and at exit

    @property
    def queued_bytes(self) -> int:
        return max(1, self.stations) * self.outbox_bytes

    @property
    def queued_messages(self) -> int:
        return self.queued_bytes // SMALLEST_MESSAGE_BYTES


def mosquitto_conf(out_dir: Path, listener: Listener, limits: QueueLimits, header: str,
                   persistence_dir: Path | None = None) -> str:
    """A snippet for ``/etc/mosquitto/conf.d/`` (or ``mosquitto -c``); paths are absolute. The broker saves its
    queues in ``persistence_dir`` (default: ``out_dir``; the broker's user must be able to write it)."""
    lines = [f"# {header}", "per_listener_settings false", "allow_anonymous false",
             f"password_file {out_dir / PASSWORD_FILE}", f"acl_file {out_dir / ACL_FILE}", "",
             f"# Queue for an absent subscriber: {limits.stations} station(s) × "
             f"{limits.outbox_bytes // (1024 * 1024)} MiB of edge outbox each (docs/how-to/mqtt-security.md)",
             f"max_queued_bytes {limits.queued_bytes}", f"max_queued_messages {limits.queued_messages}",
             f"max_inflight_messages {limits.inflight}", "persistence true",
             f"persistence_location {persistence_dir or out_dir}/",
             f"autosave_interval {limits.autosave_s}", "",
             f"listener {listener.effective_port} {listener.bind_address}"]
    if listener.tls_dir is not None:
        lines += [f"cafile {listener.tls_dir / CA_FILE}", f"certfile {listener.tls_dir / CERT_FILE}",
                  f"keyfile {listener.tls_dir / KEY_FILE}", "tls_version tlsv1.2"]
    return "\n".join(lines) + "\n"


def env_file(account: Account, listener: Listener) -> str:
    lines = [f"# MQTT login of {account.username}; keep secret (mode 0600). Use: forecourt --env-file THIS_FILE …",
             f"FORECOURT_MQTT_URL={listener.url(account)}"]
    if listener.tls_dir is not None:
        lines.append(f"FORECOURT_MQTT_CA_FILE={listener.tls_dir / CA_FILE}")
    lines += [f"{k}={v}" for k, v in account.settings]
    return "\n".join(lines) + "\n"


# --- the whole set ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Bundle:
    accounts: tuple[Account, ...]
    files: dict[str, tuple[str, int]]    # file name → (text, mode)


def _name(kind: str, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise MqttSecurityError(f"{kind} {value!r}: only letters, digits, '.', '_' and '-' may appear in a topic "
                                "level the ACL names")
    return value


def _random_password() -> str:
    return secrets.token_urlsafe(24)


def build(stations: Sequence[Station], out_dir: Path, *, group: str, host_id: str, listener: Listener,
          passwords: Mapping[str, str] | None = None, new_password: Callable[[], str] = _random_password,
          sources: Sequence[str] = (), outbox_bytes: int = DEFAULT_OUTBOX_BYTES,
          persistence_dir: Path | None = None) -> Bundle:
    """Every file's text for these stations. ``passwords`` (username → password) are kept; others are new."""
    passwords = passwords or {}
    _name("host id", host_id)
    accounts: list[Account] = []
    for station in stations:
        code = station.station
        if code in HOST_USERS or any(a.env_name == code for a in accounts):
            raise MqttSecurityError(f"station {code!r} appears twice or collides with a host user's env file")
        station_group = _name("group", station.group or group)
        user = edge_username(code)
        accounts.append(Account(user, passwords.get(user) or new_password(), edge_grants(code, station_group, host_id),
                                code, (("FORECOURT_GROUP", station_group), ("FORECOURT_PRIMARY_HOST_ID", host_id))))
    host_settings = {"ingest": (("FORECOURT_PRIMARY_HOST_ID", host_id),),
                     "control-api": (("FORECOURT_GROUP", _name("group", group)),),
                     "alarms": (("FORECOURT_GROUP", _name("group", group)),)}
    for user in HOST_USERS:
        accounts.append(Account(user, passwords.get(user) or new_password(), host_grants(user, host_id), user,
                                host_settings.get(user, ())))
    header = "Generated by `forecourt mqtt-auth`" + (f" from {', '.join(sources)}" if sources else "") + \
        "; regenerate rather than edit."
    files = {PASSWORD_FILE: (password_file(accounts), SECRET_MODE), ACL_FILE: (acl_file(accounts, header), SECRET_MODE),
             CONF_FILE: (mosquitto_conf(out_dir, listener, QueueLimits(len(stations), outbox_bytes), header,
                                        persistence_dir),
                         PUBLIC_MODE)}
    files |= {f"{a.env_name}.env": (env_file(a, listener), SECRET_MODE) for a in accounts}
    return Bundle(tuple(accounts), files)


def known_passwords(out_dir: Path) -> dict[str, str]:
    """Username → password from the ``*.env`` files a previous run left in ``out_dir``."""
    found: dict[str, str] = {}
    for path in sorted(out_dir.glob("*.env")) if out_dir.is_dir() else ():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("FORECOURT_MQTT_URL="):
                url = urlsplit(line.partition("=")[2].strip())
                if url.username and url.password:
                    found[unquote(url.username)] = unquote(url.password)
    return found


def write(bundle: Bundle, out_dir: Path) -> list[Path]:
    """Write every file with its mode (secrets are never readable by others, not even for a moment)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (text, mode) in bundle.files.items():
        path = out_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)       # an existing file keeps its old mode through O_CREAT
            f.write(text)
        written.append(path)
    return written


def generate(station_files: Sequence[Path], out_dir: Path, *, group: str, host_id: str,
             listener: Listener, outbox_bytes: int = DEFAULT_OUTBOX_BYTES,
             persistence_dir: Path | None = None) -> Bundle:
    """Load the stations (``StationConfigError`` on a bad file), build and write everything into ``out_dir``."""
    out_dir = out_dir.resolve()
    if listener.tls_dir is not None:
        tls_dir = listener.tls_dir.resolve()
        missing = [n for n in (CA_FILE, CERT_FILE, KEY_FILE) if not (tls_dir / n).is_file()]
        if missing:
            raise MqttSecurityError(f"{tls_dir}: missing {', '.join(missing)} (see docs/how-to/mqtt-security.md)")
        listener = replace(listener, tls_dir=tls_dir)
    stations = [load_station(path) for path in station_files]
    try:
        bundle = build(stations, out_dir, group=group, host_id=host_id, listener=listener,
                       passwords=known_passwords(out_dir), sources=[str(p) for p in station_files],
                       outbox_bytes=outbox_bytes, persistence_dir=persistence_dir)
        write(bundle, out_dir)
    except OSError as exc:
        raise MqttSecurityError(f"{exc.filename or out_dir}: {exc.strerror}") from exc
    return bundle


def mqtt_auth_command(station_files: Sequence[Path], out_dir: Path, *, group: str, host_id: str,
                      listener: Listener, outbox_bytes: int = DEFAULT_OUTBOX_BYTES,
                      persistence_dir: Path | None = None) -> int:
    """``forecourt mqtt-auth``: generate, then say what was written and what to do next; the exit status."""
    try:
        bundle = generate(station_files, out_dir, group=group, host_id=host_id, listener=listener,
                          outbox_bytes=outbox_bytes, persistence_dir=persistence_dir)
    except StationConfigError as exc:
        print(f"站点配置错误 (station file error): {exc}", file=sys.stderr)
        return 2
    except MqttSecurityError as exc:
        print(f"无法生成 (cannot generate): {exc}", file=sys.stderr)
        return 2
    out_dir = out_dir.resolve()
    print(f"已生成 (written) in {out_dir}:")
    for name in bundle.files:
        print(f"  {name}")
    print(f"Broker: include {out_dir / CONF_FILE} in mosquitto's configuration; the broker's user must be able to "
          f"read {PASSWORD_FILE} and {ACL_FILE} and write the folder (chown mosquitto).\n"
          "Each process: forecourt --env-file <its .env> …")
    return 0
