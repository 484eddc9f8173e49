"""Grafana's expansion of a panel's SQL, from tables of input and the exact text Grafana produces
(pkg/tsdb/grafana-postgresql-datasource/macros.go, sqleng.Interpolate, SqlDatasource.interpolateVariable)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from grafana.macros import MacroError, expand, format_interval, parse_interval, rfc3339nano

FROM = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TO = datetime(2026, 3, 1, 14, 30, 5, 250000, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _expand(sql: str, interval: timedelta = MINUTE, timescaledb: bool = False,
            **variables: str | tuple[str, ...]) -> str:
    return expand(sql, start=FROM, end=TO, interval=interval, variables=variables, timescaledb=timescaledb)


@pytest.mark.parametrize(("sql", "expected"), [
    ("$__timeFilter(p.ts)", "p.ts BETWEEN '2026-03-01T08:00:00Z' AND '2026-03-01T14:30:05.25Z'"),
    ("$__timeFilter( ts )", "ts BETWEEN '2026-03-01T08:00:00Z' AND '2026-03-01T14:30:05.25Z'"),
    ("$__timeFrom() < $__timeTo()", "'2026-03-01T08:00:00Z' < '2026-03-01T14:30:05.25Z'"),
    ("$__time(ts)", 'ts AS "time"'),
    ("$__timeEpoch(ts)", 'extract(epoch from ts) as "time"'),
    ("$__timeGroup(ts, '5m')", "floor(extract(epoch from ts)/300)*300"),
    ("$__timeGroup(ts,5m) AS t", "floor(extract(epoch from ts)/300)*300 AS t"),
    ("SELECT $__timeGroup(ts, '1h'), x", 'SELECT floor(extract(epoch from ts)/3600)*3600 AS "time", x'),
    ("$__timeGroupAlias(ts, $__interval)", 'floor(extract(epoch from ts)/60)*60 AS "time"'),
    ("$__timeGroup(ts, '500ms')", "floor(extract(epoch from ts)/0.5)*0.5"),
    ("$__timeGroup(ts, '1h30m')", "floor(extract(epoch from ts)/5400)*5400"),
    ("$__timeGroup(ts, '2d')", "floor(extract(epoch from ts)/172800)*172800"),
    ("$__unixEpochFilter(t)", "t >= 1772352000 AND t <= 1772375405"),
    ("$__unixEpochFrom() $__unixEpochTo()", "1772352000 1772375405"),
    ("$__unixEpochNanoFrom()", "1772352000000000000"),
    ("$__unixEpochGroupAlias(t, '1m')", 'floor((t)/60)*60 AS "time"'),
    ("$__interval_ms $__interval", "60000 1m"),
    ("$__from $__to", "1772352000000 1772375405250"),
])
def test_macros_expand_as_grafana_does(sql: str, expected: str) -> None:
    assert _expand(sql) == expected


@pytest.mark.parametrize(("sql", "expected"), [
    ("$__timeGroup(ts, '1m')", "time_bucket('60.000s',ts)"),
    ("$__timeGroupAlias(ts, '500ms')", "time_bucket('0.500s',ts) AS \"time\""),
])
def test_timescaledb_groups_with_time_bucket(sql: str, expected: str) -> None:
    assert _expand(sql, timescaledb=True) == expected


@pytest.mark.parametrize(("value", "sql", "expected"), [
    ("st-01", "m.station = '$station'", "m.station = 'st-01'"),
    ("st-01", "m.station = '${station}'", "m.station = 'st-01'"),
    ("st-01", "m.station = '[[station]]'", "m.station = 'st-01'"),
    ("O'Hare", "m.station = '$station'", "m.station = 'O''Hare'"),           # single value: bare, ' doubled
    (("a", "b'c"), "m.station IN ($station)", "m.station IN ('a','b''c')"),    # multi/all: quoted list
    (("a",), "m.station IN (${station})", "m.station IN ('a')"),
    ("st-01", "'$station_id' '$stationx' '$station/x'", "'$station_id' '$stationx' 'st-01/x'"),
])
def test_template_variables_are_replaced_like_the_sql_datasources_do(
        value: str | tuple[str, ...], sql: str, expected: str) -> None:
    assert _expand(sql, station=value) == expected


def test_variables_go_first_then_globals_then_macros() -> None:
    sql = "SELECT $__timeGroupAlias(ts, $__interval), v FROM t WHERE s = '$station' AND $__timeFilter(ts)"
    assert _expand(sql, timedelta(seconds=20), station="x") == (
        'SELECT floor(extract(epoch from ts)/20)*20 AS "time", v FROM t WHERE s = \'x\' AND '
        "ts BETWEEN '2026-03-01T08:00:00Z' AND '2026-03-01T14:30:05.25Z'")


@pytest.mark.parametrize(("interval", "text"), [
    (timedelta(milliseconds=0.4), "1ms"), (timedelta(milliseconds=250), "250ms"), (timedelta(seconds=20), "20s"),
    (timedelta(seconds=90), "1m"), (timedelta(hours=2), "2h"), (timedelta(hours=36), "1d"),
    (timedelta(days=400), "1y"),
])
def test_interval_text_is_the_largest_whole_unit(interval: timedelta, text: str) -> None:
    assert format_interval(interval) == text


@pytest.mark.parametrize(("text", "interval"), [
    ("1m", MINUTE), ("1.5h", timedelta(minutes=90)), ("1h30m", timedelta(minutes=90)), ("250ms", timedelta(0, 0.25)),
    ("1w", timedelta(days=7)), ("0", timedelta(0)),
])
def test_intervals_parse_like_gtime(text: str, interval: timedelta) -> None:
    assert parse_interval(text) == interval


@pytest.mark.parametrize(("sql", "error"), [
    ("$__timeGroup(ts)", "needs time column and interval"),
    ("$__timeGroup(ts, 'often')", "error parsing interval"),
    ("$__timeGroup(ts, '1M')", "calendar interval"),
    ("$__timeFilter()", "missing time column"),
    ("$__timeFrame(ts)", "unknown macro"),
])
def test_what_grafana_refuses_is_refused(sql: str, error: str) -> None:
    with pytest.raises(MacroError, match=error):
        _expand(sql)


def test_times_are_utc_rfc3339nano_and_must_be_aware() -> None:
    assert rfc3339nano(datetime(2026, 3, 1, 16, 0, 0, 120000, tzinfo=timezone(timedelta(hours=8)))) == \
        "2026-03-01T08:00:00.12Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        expand("x", start=datetime(2026, 3, 1), end=TO, interval=MINUTE)  # noqa: DTZ001
