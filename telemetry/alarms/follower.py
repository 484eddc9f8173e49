"""What crosses between the two roles' alarm engines over MQTT.

- **Head office** copies the stations' ``alarm.*`` events into the same tables (``owner = 'station'``), each
  transition once by (alarm_id, seq), so its console shows every station. Its own events come back too and
  change nothing (already in the journal).
- **A station server** applies ``command.acknowledge_alarm`` (head office acknowledging an alarm the station
  owns) to its own alarm; its ``alarm.acknowledged`` then goes up like any transition. An alarm acknowledged at
  the station meanwhile (the uplink was down) makes the command a no-op.

Each message is acknowledged to the broker after its transaction commits (a persistent MQTT v5 session), so a
crash between the two delivers it again and the repeat changes nothing.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt
import psycopg

from protocol_adapters.mqtt.client import ack, ack_after_commit, keep_sessions, persistent_session
from telemetry.alarms import actions, repository
from telemetry.alarms.metrics import COPIED
from telemetry.alarms.model import Action, ActionRefused
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.alarms import ACKNOWLEDGE_ALARM, ALARM_ESCALATED, ALARM_EVENTS, AcknowledgeAlarm
from telemetry.contracts.topics import TopicError, event_topic, parse_event_topic

log = logging.getLogger(__name__)

#: the engine's own transitions (``alarm.escalated`` is notifications', not a transition of the alarm's seq)
LIFE_CYCLE = tuple(t for t in ALARM_EVENTS if t != ALARM_ESCALATED)


class AlarmFollower:
    def __init__(self, database_url: str, broker: BrokerAddress, *, group: str, client_id: str,
                 station: str | None = None) -> None:
        """``station``: a station server's own station (it follows head office's acknowledgements); None: head
        office (it copies every station's alarm events)."""
        self.database_url = database_url
        self.broker = broker
        self.group = group
        self.client_id = client_id
        self.station = station
        self.subscribed = asyncio.Event()
        self.applied = 0

    def filters(self) -> list[str]:
        if self.station is not None:
            return [event_topic(self.group, self.station, ACKNOWLEDGE_ALARM).replace("/events/", "/commands/")]
        return [event_topic(self.group, "+", event_type) for event_type in LIFE_CYCLE]

    async def run(self) -> None:
        await keep_sessions(self._session, self.subscribed.clear, log, self.broker)

    async def _session(self) -> None:
        session = persistent_session(self.client_id) if self.broker.mqtt5 else {"identifier": self.client_id}
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn, \
                aiomqtt.Client(**self.broker.client_kwargs(), **session) as client:
            ack_after_commit(client)
            for topic_filter in self.filters():
                await client.subscribe(topic_filter, qos=1)
            self.subscribed.set()
            async for message in client.messages:
                raw = bytes(message.payload) if isinstance(message.payload, (bytes, bytearray)) else b""
                await self.handle(conn, str(message.topic), raw)
                ack(client, message)

    async def handle(self, conn: psycopg.AsyncConnection, topic: str, raw: bytes) -> bool:
        """Apply one message; False when it was refused (logged) or changed nothing."""
        try:
            where = parse_event_topic(topic)
            event = CloudEvent.from_bytes(raw)
            if event.type == ACKNOWLEDGE_ALARM and self.station is not None:
                return await self._acknowledge(conn, AcknowledgeAlarm.from_event(event))
            model = ALARM_EVENTS.get(event.type) if event.type in LIFE_CYCLE else None
            if model is None or self.station is not None:
                return False
            transition = model.from_event(event)
            if transition.station != where.station:
                log.warning("alarm event on %s names station %s: ignored", topic, transition.station)
                return False
        except (TopicError, ValueError) as exc:
            log.warning("ignored an alarm message on %s: %s", topic, exc)
            return False
        async with conn.transaction():
            done = await repository.record(conn, where.group, transition, owner="station")
        self.applied += int(done)
        COPIED.inc(int(done))
        return done

    async def _acknowledge(self, conn: psycopg.AsyncConnection, command: AcknowledgeAlarm) -> bool:
        if command.station != self.station:
            return False
        try:
            async with conn.transaction():
                await actions.perform(conn, self.group, command.alarm_id, Action.ACKNOWLEDGE,
                                      f"{command.by}（总部）", command.comment)
        except (actions.AlarmNotFound, ActionRefused) as exc:
            log.info("head office's acknowledgement of %s changed nothing: %s", command.alarm_id, exc)
            return False
        self.applied += 1
        COPIED.inc()
        return True
