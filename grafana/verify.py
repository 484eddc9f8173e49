"""Run every panel's (and variable's) SQL of a dashboard against a database, as Grafana would, and check
what comes back (``grafana.frames``). Each query runs alone in a read-only transaction that is rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from grafana.frames import check_result, kind_of
from grafana.macros import VariableValue, expand
from grafana.model import Dashboard, Kind, Query, Variable


@dataclass(frozen=True, slots=True)
class QueryResult:
    dashboard: str
    title: str                       # panel title, or "$name" for a variable's query
    sql: str                         # as expanded and run
    names: tuple[str, ...]
    kinds: tuple[Kind, ...]
    rows: list[tuple[Any, ...]]
    problems: tuple[str, ...]

    def column(self, name: str) -> list[Any]:
        at = self.names.index(name)
        return [row[at] for row in self.rows]


def variable_values(dashboard: Dashboard, chosen: Mapping[str, str | Sequence[str]]) -> dict[str, VariableValue]:
    """Values as Grafana sends them: a tuple for multi-value or include-all variables, else one string."""
    out: dict[str, VariableValue] = {}
    for v in dashboard.variables:
        value = chosen[v.name]
        many = v.multi or v.include_all
        out[v.name] = (tuple([value] if isinstance(value, str) else value) if many else
                       value if isinstance(value, str) else value[0])
    return out


async def run_dashboard(conn: psycopg.AsyncConnection, dashboard: Dashboard, *, start: datetime, end: datetime,
                        interval: timedelta, chosen: Mapping[str, str | Sequence[str]],
                        timescaledb: bool = False) -> list[QueryResult]:
    """Every variable query, then every panel query, expanded and run; a database error is a problem too."""
    values = variable_values(dashboard, chosen)
    results = []
    for variable in dashboard.variables:
        results.append(await _run(conn, dashboard, f"${variable.name}", _variable_query(variable),
                                  start, end, interval, values, timescaledb))
    for panel in dashboard.panels():
        results.append(await _run(conn, dashboard, panel.title, panel.query, start, end, interval, values,
                                  timescaledb))
    return results


def _variable_query(variable: Variable) -> Query:
    # Grafana takes a variable's values from the first column (or __text/__value); ours return one text column
    return Query(variable.sql, "table", ())


async def _run(conn: psycopg.AsyncConnection, dashboard: Dashboard, title: str, query: Query, start: datetime,
               end: datetime, interval: timedelta, values: Mapping[str, VariableValue],
               timescaledb: bool) -> QueryResult:
    sql = expand(query.sql, start=start, end=end, interval=interval, variables=values, timescaledb=timescaledb)
    try:
        async with conn.transaction(force_rollback=True):
            await conn.execute("SET TRANSACTION READ ONLY")
            cur = await conn.execute(sql)
            description = cur.description or []
            rows = await cur.fetchall()
    except psycopg.Error as exc:
        return QueryResult(dashboard.uid, title, sql, (), (), [], (f"PostgreSQL refused it: {exc}",))
    names = tuple(d.name for d in description)
    oids = [d.type_code for d in description]
    if query.columns:
        problems = check_result(query, names, oids, rows)
    else:
        problems = [] if len(names) == 1 and kind_of(oids[0]) is Kind.TEXT else [
            f"a variable query should return one text column, not {list(names)}"]
    return QueryResult(dashboard.uid, title, sql, names, tuple(kind_of(o) for o in oids), rows, tuple(problems))
