"""Expand a panel's SQL the way Grafana does before PostgreSQL sees it (pure).

Three passes, in Grafana's order (sources are cited in docs/grafana.md):

1. the browser replaces template variables (``templateSrv.replace`` with the SQL datasources'
   ``interpolateVariable``): a single-value variable is inserted bare with ``'`` doubled, so the SQL
   writes ``'$station'``; a multi-value or include-all variable becomes ``'a','b'``: ``IN ($station)``;
2. the server's global pass (``sqleng.Interpolate``): ``$__interval_ms``, ``$__interval``,
   ``$__unixEpochFrom()``, ``$__unixEpochTo()``;
3. the PostgreSQL macro engine (``macros.go``): ``$__timeFilter(col)``, ``$__timeFrom()``,
   ``$__timeTo()``, ``$__timeGroup(col, interval)``, ``$__timeGroupAlias`` and the epoch variants.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

VariableValue = str | Sequence[str]

_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}")
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class MacroError(ValueError):
    """Grafana would refuse this query too (unknown macro, missing argument, bad interval)."""


def expand(sql: str, *, start: datetime, end: datetime, interval: timedelta,
           variables: Mapping[str, VariableValue] | None = None, timescaledb: bool = False) -> str:
    """The SQL Grafana sends to PostgreSQL for this time range, panel interval and variable values.

    A ``str`` value is a single-value variable; a sequence is a multi-value or include-all one.
    ``timescaledb`` is the datasource's TimescaleDB switch (``$__timeGroup`` → ``time_bucket``).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    scoped: dict[str, VariableValue] = {"__from": str(_epoch_ms(start)), "__to": str(_epoch_ms(end))}
    scoped.update(variables or {})
    sql = interpolate_variables(sql, scoped)
    sql = interpolate_globals(sql, start, end, interval)
    return interpolate_macros(sql, start, end, timescaledb=timescaledb)


def interpolate_variables(sql: str, variables: Mapping[str, VariableValue]) -> str:
    """Pass 1 (browser). Names that are not variables (``$__timeFilter``, ``$1``) are left as they are."""
    def replace(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        if name not in variables:
            return m.group(0)
        if m.group(3) or m.group(5):
            raise MacroError(f"variable format {m.group(0)!r} is not used by Forecourt dashboards")
        value = variables[name]
        if isinstance(value, str):
            return value.replace("'", "''")
        return ",".join("'" + v.replace("'", "''") + "'" for v in value)
    return _VARIABLE.sub(replace, sql)


def interpolate_globals(sql: str, start: datetime, end: datetime, interval: timedelta) -> str:
    """Pass 2 (server, every SQL datasource); ``$__interval_ms`` first so ``$__interval`` cannot eat it."""
    sql = sql.replace("$__interval_ms", str(interval // timedelta(milliseconds=1)))
    sql = sql.replace("$__interval", format_interval(interval))
    sql = sql.replace("$__unixEpochFrom()", str(int(start.timestamp())))
    return sql.replace("$__unixEpochTo()", str(int(end.timestamp())))


def interpolate_macros(sql: str, start: datetime, end: datetime, *, timescaledb: bool = False) -> str:
    """Pass 3 (server, PostgreSQL macro engine)."""
    original = sql

    def replace(m: re.Match[str]) -> str:
        name, args = m.group(1), [a.strip(" ") for a in m.group(2).split(",")]
        if name == "__timeGroup":
            # Grafana < 5.3 compatibility: a comma right after the first such call means "alias it"
            at = original.find(m.group(0))
            if at >= 0 and original[at + len(m.group(0)):at + len(m.group(0)) + 1] == ",":
                name = "__timeGroupAlias"
        return _evaluate(name, args, start, end, timescaledb)
    return _MACRO.sub(replace, sql)


def _evaluate(name: str, args: list[str], start: datetime, end: datetime, timescaledb: bool) -> str:
    first = args[0]
    simple: dict[str, Callable[[], str]] = {
        "__timeFrom": lambda: f"'{rfc3339nano(start)}'",
        "__timeTo": lambda: f"'{rfc3339nano(end)}'",
        "__unixEpochNanoFrom": lambda: str(_epoch_ns(start)),
        "__unixEpochNanoTo": lambda: str(_epoch_ns(end)),
    }
    if name in simple:
        return simple[name]()
    if name in ("__time", "__timeEpoch", "__timeFilter", "__unixEpochFilter", "__unixEpochNanoFilter") and not first:
        raise MacroError(f"missing time column argument for macro {name}")
    if name == "__time":
        return f'{first} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {first}) as "time"'
    if name == "__timeFilter":
        return f"{first} BETWEEN '{rfc3339nano(start)}' AND '{rfc3339nano(end)}'"
    if name == "__unixEpochFilter":
        return f"{first} >= {int(start.timestamp())} AND {first} <= {int(end.timestamp())}"
    if name == "__unixEpochNanoFilter":
        return f"{first} >= {_epoch_ns(start)} AND {first} <= {_epoch_ns(end)}"
    if name in ("__timeGroup", "__unixEpochGroup", "__timeGroupAlias", "__unixEpochGroupAlias"):
        alias = name.endswith("Alias")
        if len(args) < 2:
            raise MacroError(f"macro {name} needs time column and interval and optional fill value")
        seconds = parse_interval(args[1].strip("'")).total_seconds()
        if name.startswith("__unixEpoch"):
            group = f"floor(({first})/{_go_float(seconds)})*{_go_float(seconds)}"
        elif timescaledb:
            group = f"time_bucket('{seconds:.3f}s',{first})"
        else:
            group = f"floor(extract(epoch from {first})/{_go_float(seconds)})*{_go_float(seconds)}"
        return group + ' AS "time"' if alias else group
    raise MacroError(f"unknown macro {name!r}")


def parse_interval(text: str) -> timedelta:
    """Grafana's ``gtime.ParseInterval``: ``5d``/``2w`` or a Go duration (``1m``, ``1h30m``, ``500ms``)."""
    days = re.fullmatch(r"(\d+)([dw])", text)
    if days:
        return timedelta(days=int(days.group(1)) * (7 if days.group(2) == "w" else 1))
    if re.fullmatch(r"\d+[My]", text):
        raise MacroError(f"calendar interval {text!r} (months, years) is not used by Forecourt dashboards")
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.removeprefix("+"))
    parts = _GO_DURATION.findall(body)
    if body == "0":
        return timedelta(0)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise MacroError(f"error parsing interval {text!r}")
    return timedelta(seconds=sign * sum(float(n) * _GO_UNITS[u] for n, u in parts))


def format_interval(interval: timedelta) -> str:
    """Grafana's ``gtime.FormatInterval``: the largest whole unit, rounded down (90 s → ``1m``)."""
    for unit, size in (("y", timedelta(days=365)), ("d", timedelta(days=1)), ("h", timedelta(hours=1)),
                       ("m", timedelta(minutes=1)), ("s", timedelta(seconds=1)), ("ms", timedelta(milliseconds=1))):
        if interval >= size:
            return f"{interval // size}{unit}"
    return "1ms"


def rfc3339nano(t: datetime) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: ``2026-03-01T08:00:00Z``, ``…:00.25Z`` (trailing zeros dropped)."""
    t = t.astimezone(UTC)
    fraction = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _go_float(x: float) -> str:
    """Go's ``%v`` for a float64 of ordinary size: ``60``, ``0.5``."""
    return str(int(x)) if x.is_integer() and abs(x) < 1e21 else repr(x)


def _epoch_ms(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _epoch_ns(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000
