"""A second station server's database, for a card that goes grey at one station and is settled at another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import fresh_database
from tests.support.databases import DatabaseCopies


@pytest.fixture
def other_station_database_url(postgres_server: str, database_copies: DatabaseCopies, template_database: str) \
        -> Iterator[str]:
    yield from fresh_database(postgres_server, database_copies, template_database)
