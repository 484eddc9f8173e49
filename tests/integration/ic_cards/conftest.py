"""A second station server's database, for a card that goes grey at one station and is settled at another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.databases import DatabaseCopies


@pytest.fixture
def other_station_database_url(database_copies: DatabaseCopies, template_database: str) -> Iterator[str]:
    with database_copies.fresh(template_database) as url:
        yield url
