"""Would Grafana draw this result? Checks a query's columns and rows the way the PostgreSQL datasource
turns them into a data frame (pure: takes column names, type OIDs and rows).

Grafana maps int2/int4/int8/float4/float8/numeric to numbers, timestamp/timestamptz/date to time,
bool to bool and everything else to strings. A ``time_series`` result needs a column named ``time``
(a time, or epoch seconds as a number) in ascending order without nulls; a ``metric`` text column
names the series; every other column is a number (text columns become series labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from grafana.model import Column, Kind, Query

NUMBER_OIDS = frozenset({20, 21, 23, 700, 701, 1700})     # int8 int2 int4 float4 float8 numeric
TIME_OIDS = frozenset({1082, 1114, 1184})                 # date timestamp timestamptz
BOOL_OID = 16


def kind_of(oid: int) -> Kind:
    if oid in NUMBER_OIDS:
        return Kind.NUMBER
    if oid in TIME_OIDS:
        return Kind.TIME
    return Kind.BOOL if oid == BOOL_OID else Kind.TEXT


def check_result(query: Query, names: Sequence[str], oids: Sequence[int], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Problems that would stop the panel showing what it should; empty when all is well."""
    kinds = [kind_of(oid) for oid in oids]
    problems = [f"column {n!r} appears twice" for i, n in enumerate(names) if n in names[:i]]
    expected = [c.name for c in query.columns]
    if list(names) != expected:
        problems.append(f"columns are {list(names)}, the panel needs {expected}")
    found = dict(zip(names, kinds, strict=True))
    for column in query.columns:
        if column.name in found and not _fits(column, found[column.name]):
            problems.append(f"column {column.name!r} is {found[column.name]}, the panel needs {column.kind}")
    if query.format == "time_series":
        problems += _time_series_problems(list(names), kinds, rows)
    return problems


def _fits(column: Column, kind: Kind) -> bool:
    # Grafana turns a numeric column named "time" into a time (epoch seconds or milliseconds)
    return kind == column.kind or (column.name == "time" and column.kind is Kind.TIME and kind is Kind.NUMBER)


def _time_series_problems(names: list[str], kinds: list[Kind], rows: Sequence[Sequence[Any]]) -> list[str]:
    if "time" not in names:
        return ["a time series needs a column named 'time'"]
    at = names.index("time")
    problems = []
    if kinds[at] not in (Kind.TIME, Kind.NUMBER):
        problems.append(f"the 'time' column is {kinds[at]}, not a time or epoch number")
    values = [n for i, (n, k) in enumerate(zip(names, kinds, strict=True))
              if i != at and n != "metric" and k is not Kind.TEXT]
    problems += [f"value column {n!r} is {kinds[names.index(n)]}, not a number"
                 for n in values if kinds[names.index(n)] is not Kind.NUMBER]
    if not values:
        problems.append("a time series needs at least one numeric value column")
    times = [row[at] for row in rows]
    if any(t is None for t in times):
        problems.append("the 'time' column has nulls")
    elif any(_later(a, b) for a, b in pairwise(times)):
        problems.append("rows are not in ascending time order")
    return problems


def _later(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a > b
    return float(a) > float(b)
