"""The primary host: one Sparkplug STATE for all the ingest workers that share a host id.

The primary host is the host application, not one worker, so:

- Each worker's MQTT session has the will ``STATE offline`` stamped with the session's start, and says
  ``STATE online`` with the same stamp when it connects. A crash (SIGKILL, a lost link) fires the will;
  an unexpected error ends the session with MQTT v5 DISCONNECT reason 0x04 "disconnect with will
  message" (on 3.1.1: the socket is dropped without DISCONNECT), so it fires too. No will delay: a
  crashed host looks crashed at once, and edge nodes keep their data in their outboxes meanwhile.
- Each worker announces itself on a retained presence topic (``topics.host_worker_topic``) over a
  second, small MQTT connection whose will clears that presence. A worker that stops cleanly clears
  its presence and says ``STATE offline`` only when no other worker is present, so a rolling restart
  never ends an edge node's session.
- Edge nodes ignore a STATE older than the newest they have seen. So the will of a worker that started
  before the newest one is ignored (the host is still there); a worker that sees such a will on the
  retained topic repeats its own ``online`` (same stamp) to put the retained STATE right. A will no
  older than its own session means the newest worker died: the survivor starts a new MQTT session, so
  that its ``online`` (and its will) carry a newer stamp that every edge node accepts.

``reaction`` is the pure rule; ``PrimaryHost`` does the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from enum import StrEnum

import aiomqtt

from protocol_adapters.mqtt.client import disconnect_with_will
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.session import HostState, host_state, read_host_state

log = logging.getLogger(__name__)


CLOCK_SKEW_MAX_MS = 3_600_000     # a STATE stamped further ahead of our own session than this is garbage


class Reaction(StrEnum):
    NONE = "none"
    REPEAT_ONLINE = "repeat-online"   # an older session's will overwrote the retained STATE: say online again
    NEW_SESSION = "new-session"       # a newer worker died: reconnect so that our online is the newest
    NOT_A_STATE = "not-a-state"       # garbage on the STATE topic: a dead letter (and say online again)


def reaction(state: HostState | None, session_ms: int) -> Reaction:
    """What a running worker whose session started at ``session_ms`` does about a STATE on its host topic."""
    if state is None or (state.timestamp_ms is not None and state.timestamp_ms > session_ms + CLOCK_SKEW_MAX_MS):
        return Reaction.NOT_A_STATE     # a stamp from the far future would make us reconnect forever
    if state.online:
        return Reaction.NONE
    if state.timestamp_ms is not None and state.timestamp_ms < session_ms:
        return Reaction.REPEAT_ONLINE
    return Reaction.NEW_SESSION


class HostSessionEnded(aiomqtt.MqttError):
    """Start a new MQTT session to say online with a newer stamp (see ``Reaction.NEW_SESSION``)."""


def now_ms() -> int:
    return int(time.time() * 1000)


class PrimaryHost:
    """STATE and presence of one ingest worker (``worker_id``) of the primary host ``host_id``."""

    def __init__(self, broker: BrokerAddress, host_id: str, worker_id: str) -> None:
        self.broker = broker
        self.host_id = host_id
        self.worker_id = worker_id
        self.state_topic = topics.state_topic(host_id)
        self.presence_filter = topics.host_worker_topic(host_id, "+")
        self.others: set[str] = set()
        self.session_ms = 0

    def will(self) -> aiomqtt.Will:
        """The will of a new MQTT session (and the stamp its STATE online will carry)."""
        self.session_ms = max(now_ms(), self.session_ms + 1)
        self.others.clear()
        return aiomqtt.Will(self.state_topic, host_state(False, self.session_ms), qos=1, retain=True)

    @contextlib.asynccontextmanager
    async def present(self) -> AsyncIterator[None]:
        """This worker's presence, held by a second connection whose will clears it."""
        topic = topics.host_worker_topic(self.host_id, self.worker_id)
        kwargs = self.broker.client_kwargs()
        will = aiomqtt.Will(topic, b"", qos=1, retain=True)
        async with aiomqtt.Client(identifier=f"{self.host_id}-presence-{self.worker_id}", will=will,
                                  keepalive=10, **kwargs) as client:
            await client.publish(topic, host_state(True, self.session_ms), qos=1, retain=True)
            try:
                yield
            except asyncio.CancelledError:
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    async with asyncio.timeout(2):
                        await client.publish(topic, b"", qos=1, retain=True)
                raise
            except BaseException:
                await disconnect_with_will(client, self.broker.mqtt5)
                raise

    async def announce(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self.presence_filter, qos=1)
        await client.subscribe(self.state_topic, qos=1)
        await self.say_online(client)

    async def say_online(self, client: aiomqtt.Client) -> None:
        await client.publish(self.state_topic, host_state(True, self.session_ms), qos=1, retain=True)

    def owns(self, topic: str) -> bool:
        return topic == self.state_topic or aiomqtt.Topic(topic).matches(self.presence_filter)

    async def on_message(self, client: aiomqtt.Client, topic: str, raw: bytes) -> bool:
        """Handle a STATE or presence message; False when it is garbage on the STATE topic (a dead letter)."""
        if topic != self.state_topic:
            worker = topic.rsplit("/", 1)[-1]
            if worker != self.worker_id:
                (self.others.add if raw else self.others.discard)(worker)
            return True
        action = reaction(read_host_state(raw), self.session_ms)
        if action is Reaction.REPEAT_ONLINE:
            log.info("an older ingest session's will said offline; host %s is still online", self.host_id)
            await self.say_online(client)
        elif action is Reaction.NOT_A_STATE and raw:
            await self.say_online(client)   # put the retained STATE right
        elif action is Reaction.NEW_SESSION:
            raise HostSessionEnded("a newer ingest worker of this host died: starting a new session to say "
                                   "online again")
        return action is not Reaction.NOT_A_STATE

    async def stop(self, client: aiomqtt.Client) -> None:
        """A clean stop: say offline only if this is the last worker of the host."""
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(3):
                await client.publish(topics.host_worker_topic(self.host_id, self.worker_id), b"", qos=1,
                                     retain=True)
                if self.others:
                    log.info("ingest workers %s still run host %s: STATE stays online", sorted(self.others),
                             self.host_id)
                    return
                await client.publish(self.state_topic, host_state(False, max(now_ms(), self.session_ms)),
                                     qos=1, retain=True)
