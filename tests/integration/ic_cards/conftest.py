"""A second station server's database, for a card that goes grey at one station and is settled at another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import _fresh_database


@pytest.fixture
def other_station_database_url(postgres_server: str, template_database: str) -> Iterator[str]:
    yield from _fresh_database(postgres_server, template_database, "fc_station_b")
