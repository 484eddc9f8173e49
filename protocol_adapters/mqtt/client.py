"""The MQTT client's I/O helpers that aiomqtt 2.x does not offer, in the one place that reaches into paho.

Acknowledge a QoS 1 message only after its rows are committed, see the broker's refusal of a publish,
keep a persistent (MQTT v5) session, run sessions with back-off, and end a session so that its will is
published. Where the broker is (``BrokerAddress``) is a contract and lives in ``telemetry/contracts/broker.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt

from telemetry.contracts.broker import BrokerAddress


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


async def disconnect_with_will(client: aiomqtt.Client, mqtt5: bool) -> None:
    """End a session so that the broker publishes its will: the session did not end on purpose.
    (aiomqtt 2.x has no switch for it: this reaches into paho.)"""
    inner: Any = client._client
    if mqtt5:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.reasoncodes import ReasonCode

        inner.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"))
    else:
        inner._sock_close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(client._disconnected), 2)
