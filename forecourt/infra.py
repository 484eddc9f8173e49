"""Resolves the database and the broker for a process: the configured ones, or local ones started here.

A database that refuses us, or a data directory we cannot write, ends in one ``InfrastructureError``
line naming the setting to fix (``forecourt/failures.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

import psycopg

from forecourt.failures import check_data_dir, database_failure
from forecourt.local import EmbeddedPostgres, LocalBroker
from forecourt.migrations import migrate
from forecourt.progress import Progress
from forecourt.settings import Settings
from telemetry.contracts.broker import BrokerAddress


class Infrastructure:
    """``async with Infrastructure(settings, ...) as infra:`` gives ``infra.database_url`` and ``infra.broker``."""

    def __init__(self, settings: Settings, *, database: bool = True, broker: bool = True,
                 progress: Progress | None = None) -> None:
        self.settings = settings
        self.want_database = database
        self.want_broker = broker
        self.progress = progress or Progress(self.steps(settings, database=database, broker=broker))
        self.database_url = ""
        self.broker = BrokerAddress("127.0.0.1")
        self._pg: EmbeddedPostgres | None = None
        self._mqtt: LocalBroker | None = None

    @staticmethod
    def steps(settings: Settings, *, database: bool, broker: bool) -> int:
        return (database and settings.database_url is None) + database + (broker and settings.mqtt_url is None)

    async def __aenter__(self) -> Infrastructure:
        s = self.settings
        data_dir = Path(s.data_dir)
        try:
            if (self.want_database and s.database_url is None) or (self.want_broker and s.mqtt_url is None):
                check_data_dir(data_dir)
            if self.want_database:
                if s.database_url is None:
                    self._pg = EmbeddedPostgres(data_dir)
                    with self.progress("启动嵌入式 PostgreSQL (embedded PostgreSQL)"):
                        self.database_url = await asyncio.to_thread(self._pg.start)
                else:
                    self.database_url = s.database_url
                with self.progress("数据库迁移 (migrations)"):
                    try:
                        await asyncio.to_thread(migrate, self.database_url)
                    except psycopg.Error as exc:   # unreachable, no such role or database, no rights
                        raise database_failure(self.database_url, exc) from None
            if self.want_broker:
                if s.mqtt_url is None:
                    self._mqtt = LocalBroker(data_dir)
                    with self.progress("启动 MQTT 代理 (broker)"):
                        self.broker = await self._mqtt.start()
                else:
                    ca = str(s.mqtt_ca_file) if s.mqtt_ca_file else None
                    self.broker = BrokerAddress.from_url(s.mqtt_url, ca_file=ca, mqtt5=s.mqtt_v5)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._mqtt is not None:
            await self._mqtt.stop()
            self._mqtt = None
        if self._pg is not None:
            await asyncio.to_thread(self._pg.stop)
            self._pg = None
