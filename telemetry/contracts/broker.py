"""Where the MQTT broker is: parsed once from ``mqtt://user:pass@host:port`` and handed to every client."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit


def url_without_password(url: str) -> str:
    """``scheme://user:***@host:port/…``: a URL (MQTT or PostgreSQL) fit for a log line or an error message."""
    parts = urlsplit(url)
    if ":" not in parts.netloc.rpartition("@")[0]:
        return url
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{parts.netloc.rpartition('@')[2]}").geturl()


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    mqtt5: bool = True   # MQTT v5 (shared subscriptions); the in-process broker speaks only 3.1.1

    @classmethod
    def from_url(cls, url: str, *, ca_file: str | None = None, mqtt5: bool = True) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"expected mqtt://host:port or mqtts://host:port, got {url!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port
        except ValueError:   # 'abc' or 99999: name the URL without its password
            raise ValueError(f"a port from 1 to 65535 in {url_without_password(url)}") from None
        if port == 0:
            raise ValueError(f"a port from 1 to 65535 in {url_without_password(url)}")
        return cls(host=parts.hostname or "127.0.0.1", port=port or (8883 if tls else 1883),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   tls=tls, ca_file=ca_file, mqtt5=mqtt5)

    def url(self) -> str:
        """The broker's URL without user or password: safe to log."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``aiomqtt.Client``."""
        import aiomqtt  # local import keeps this module importable without the MQTT stack

        version = aiomqtt.ProtocolVersion.V5 if self.mqtt5 else aiomqtt.ProtocolVersion.V311
        kwargs: dict[str, Any] = {"hostname": self.host, "port": self.port, "username": self.username,
                                  "password": self.password, "protocol": version}
        if self.tls:
            kwargs["tls_context"] = ssl.create_default_context(cafile=self.ca_file)
        return kwargs


def ack_after_commit(client: Any) -> None:
    """Switch an ``aiomqtt.Client`` to manual acknowledgement: a QoS 1 message is acknowledged only
    when ``ack(client, message)`` is called, after its rows are committed, so a crash before the
    commit makes the broker deliver it again. (aiomqtt 2.x does not expose paho's switch; this is
    the one place that reaches into it.)"""
    client._client.manual_ack_set(True)


def count_refused_publishes(client: Any, on_refused: Callable[[], None]) -> None:
    """Call ``on_refused`` for every QoS 1 publish the broker answered with a failure reason code (MQTT v5,
    e.g. 135 not authorised). aiomqtt 2.x treats those as delivered; the outbox must not."""
    inner = client._client.on_publish

    def on_publish(paho: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            on_refused()
        inner(paho, userdata, mid, reason_code, properties)

    client._client.on_publish = on_publish


def ack(client: Any, message: Any) -> None:
    if message.qos > 0:
        client._client.ack(message.mid, message.qos)


def persistent_session(identifier: str, expiry_s: int = 3600, receive_maximum: int = 1000) -> dict[str, Any]:
    """Keyword arguments for an ``aiomqtt.Client`` whose subscriptions and unacknowledged QoS 1 messages
    survive a disconnect for ``expiry_s`` (MQTT v5 session expiry). ``receive_maximum`` lets that many
    unacknowledged messages be in flight (a broker may cap it lower: Mosquitto's max_inflight_messages)."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = expiry_s
    properties.ReceiveMaximum = receive_maximum
    return {"identifier": identifier, "clean_start": False, "properties": properties}


async def keep_sessions(session: Callable[[], Awaitable[None]], on_lost: Callable[[], None],
                        logger: logging.Logger, broker: BrokerAddress | None = None) -> None:
    """Run MQTT sessions until cancelled: when one ends with a broker error, start the next after a
    back-off (0.5 s doubling to 10 s, back to 0.5 s after a session that lasted a minute).

    The warning names the broker (``broker``, else the ``broker`` of the object whose method
    ``session`` is), never its password."""
    import aiomqtt

    if broker is None:
        broker = getattr(getattr(session, "__self__", None), "broker", None)
    where = broker.url() if isinstance(broker, BrokerAddress) else "the broker"

    delay = 0.5
    while True:
        started = time.monotonic()
        try:
            await session()
        except* (aiomqtt.MqttError, OSError) as group:
            on_lost()
            if time.monotonic() - started > 60:
                delay = 0.5
            logger.warning("MQTT session with %s ended (%s); reconnecting in %.1fs", where, group.exceptions[0],
                           delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
