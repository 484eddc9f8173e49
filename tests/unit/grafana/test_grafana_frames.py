"""What a panel needs from a result, checked as Grafana's PostgreSQL datasource builds its data frame."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from grafana.frames import check_result, kind_of
from grafana.model import Column, Kind, Query

TEXT, INT8, FLOAT8, NUMERIC, TIMESTAMPTZ, BOOL, JSONB = 25, 20, 701, 1700, 1184, 16, 3802
T0 = datetime(2026, 3, 1, tzinfo=UTC)
SERIES = Query("x", "time_series", (Column("time", Kind.TIME), Column("metric", Kind.TEXT),
                                    Column("volume", Kind.NUMBER)))
TABLE = Query("x", "table", (Column("device", Kind.TEXT), Column("state", Kind.NUMBER),
                             Column("updated", Kind.TIME)))


@pytest.mark.parametrize(("oid", "kind"), [(21, Kind.NUMBER), (23, Kind.NUMBER), (INT8, Kind.NUMBER),
                                           (700, Kind.NUMBER), (FLOAT8, Kind.NUMBER), (NUMERIC, Kind.NUMBER),
                                           (TIMESTAMPTZ, Kind.TIME), (1114, Kind.TIME), (1082, Kind.TIME),
                                           (BOOL, Kind.BOOL), (TEXT, Kind.TEXT), (1043, Kind.TEXT),
                                           (JSONB, Kind.TEXT)])
def test_postgres_types_become_grafana_field_kinds(oid: int, kind: Kind) -> None:
    assert kind_of(oid) is kind


def test_a_good_long_series_and_a_good_table_pass() -> None:
    rows = [(T0, "tank1", 1.0), (T0, "tank2", 2.0), (T0 + timedelta(minutes=1), "tank1", 1.5)]
    assert check_result(SERIES, ["time", "metric", "volume"], [TIMESTAMPTZ, TEXT, FLOAT8], rows) == []
    assert check_result(TABLE, ["device", "state", "updated"], [TEXT, INT8, TIMESTAMPTZ], [("d", 3, T0)]) == []


def test_an_epoch_number_is_a_time_for_the_time_column_only() -> None:
    rows = [(Decimal(1772352000), "a", 1.0), (Decimal(1772352060), "a", 2.0)]
    assert check_result(SERIES, ["time", "metric", "volume"], [NUMERIC, TEXT, FLOAT8], rows) == []
    problems = check_result(TABLE, ["device", "state", "updated"], [TEXT, INT8, NUMERIC], [])
    assert problems == ["column 'updated' is number, the panel needs time"]


@pytest.mark.parametrize(("names", "oids", "rows", "problem"), [
    (["t", "metric", "volume"], [TIMESTAMPTZ, TEXT, FLOAT8], [], "needs a column named 'time'"),
    (["time", "metric", "volume"], [TEXT, TEXT, FLOAT8], [], "'time' column is text"),
    (["time", "metric", "volume"], [TIMESTAMPTZ, TEXT, BOOL], [], "value column 'volume' is bool"),
    (["time", "metric", "volume"], [TIMESTAMPTZ, TEXT, FLOAT8],
     [(T0 + timedelta(minutes=1), "a", 1.0), (T0, "a", 1.0)], "not in ascending time order"),
    (["time", "metric", "volume"], [TIMESTAMPTZ, TEXT, FLOAT8], [(None, "a", 1.0)], "has nulls"),
    (["time", "metric", "volume", "volume"], [TIMESTAMPTZ, TEXT, FLOAT8, FLOAT8], [], "appears twice"),
    (["time", "metric", "litres"], [TIMESTAMPTZ, TEXT, FLOAT8], [], "the panel needs ['time', 'metric', 'volume']"),
])
def test_series_problems_are_found(names: list[str], oids: list[int], rows: list[tuple[object, ...]],
                                   problem: str) -> None:
    assert any(problem in p for p in check_result(SERIES, names, oids, rows))


def test_a_series_needs_a_number_to_draw() -> None:
    only_labels = Query("x", "time_series", (Column("time", Kind.TIME), Column("metric", Kind.TEXT)))
    problems = check_result(only_labels, ["time", "metric"], [TIMESTAMPTZ, TEXT], [])
    assert problems == ["a time series needs at least one numeric value column"]


def test_table_kinds_and_order_are_checked() -> None:
    problems = check_result(TABLE, ["device", "state", "updated"], [TEXT, TEXT, TIMESTAMPTZ], [])
    assert problems == ["column 'state' is text, the panel needs number"]
    problems = check_result(TABLE, ["state", "device", "updated"], [INT8, TEXT, TIMESTAMPTZ], [])
    assert problems == ["columns are ['state', 'device', 'updated'], the panel needs ['device', 'state', 'updated']"]
