"""The company group in a station's event topics: read once per process and kept for ``GROUP_CACHE_S``, dropped at
once when this process edits the station, never kept for a station that has no row yet."""

from __future__ import annotations

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.stations import repository, views
from business_services.stations.handlers import EditStation, edit_station
from business_services.stations.model import DEFAULT_GROUP, StationRecord
from business_services.unit_of_work import UnitOfWork

pytestmark = pytest.mark.integration

TYPE = "payment.captured"


async def test_a_station_s_group_is_read_once_and_dropped_when_this_process_edits_it(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        assert await views.event_topic_for(conn, "gt-01", TYPE) == f"forecourt/v1/{DEFAULT_GROUP}/gt-01/events/{TYPE}"
        await repository.insert_station(conn, StationRecord("gt-01", "分组测试站", company_group="acme"))
        # no row was not remembered: the list that just came is used at once
        assert await views.event_topic_for(conn, "gt-01", TYPE) == f"forecourt/v1/acme/gt-01/events/{TYPE}"

        # another process changes the company: this one keeps what it read, within GROUP_CACHE_S
        await conn.execute("UPDATE business.stations SET company_group = 'other' WHERE code = 'gt-01'")
        assert await views.event_topic_for(conn, "gt-01", TYPE) == f"forecourt/v1/acme/gt-01/events/{TYPE}"

        # this process edits the station: the new company's topic from the next event on
        async with UnitOfWork(conn, Actor("admin", "127.0.0.1")) as uow:
            await edit_station(EditStation(StationRecord("gt-01", "分组测试站", company_group="beta")), uow)
        assert await views.event_topic_for(conn, "gt-01", TYPE) == f"forecourt/v1/beta/gt-01/events/{TYPE}"
