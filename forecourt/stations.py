"""``forecourt stations …``: seed master data from station files, generate the edge's station file, check one.

    forecourt stations import config/stations/demo.yaml --grades 92,95 [--region 华东]
    forecourt stations yaml demo-01 > demo-01.yaml
    forecourt stations check config/stations/demo.yaml
    forecourt stations load .forecourt/edge/demo-01.master-data.json     # station role: hold the edge's list

Every generated file is validated with the edge's own model (``edge_nodes.station.parse_station``) before it
is printed, so what the edge would refuse never leaves here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import yaml
from psycopg import sql

from business_services.audit.model import Actor
from business_services.prices.demo import seed_demo_prices
from business_services.stations import copy, handlers, views
from business_services.stations.model import Conflict, MasterDataError
from business_services.stations.station_file import file_from_list, records_from_file
from business_services.unit_of_work import UnitOfWork
from edge_nodes.station import Station, StationConfigError, load_station, parse_station
from forecourt.migrations import migrate
from telemetry.contracts.master_data import MasterData

log = logging.getLogger(__name__)

ACTOR = Actor.system("forecourt stations")


async def import_file(database_url: str, path: Path, grades: list[str], *, group: str, region: str = "") -> int:
    """Seed one station from its station file; the list's version (1, or the existing one if unchanged)."""
    edge = load_station(path)                      # a wrong file fails here, naming the key
    raw = edge.model_dump(mode="json", exclude_unset=True)
    station, devices, tanks, nozzles = records_from_file(raw, grades, group=group, region=region)
    async with await psycopg.AsyncConnection.connect(database_url) as conn, UnitOfWork(conn, ACTOR) as uow:
        return await handlers.import_station(handlers.ImportStation(station, devices, tanks, nozzles), uow)


async def generated_file(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any]:
    """The station file of ``code`` from master data, checked with the edge's model."""
    detail = await views.station_detail(conn, code)
    if detail is None:
        raise LookupError(f"没有站点 {code} (no station {code}; import it first)")
    content = file_from_list(detail, await views.devices_json(conn, code))
    parse_station(content)     # ValidationError if master data says what the edge cannot run
    return content


async def station_yaml(database_url: str, code: str) -> str:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        content = await generated_file(conn, code)
    return yaml.safe_dump(content, allow_unicode=True, sort_keys=False)


def differences(in_use: Station, generated: Station) -> list[str]:
    """What the station file in use says differently from master data (empty: they agree)."""
    found = []
    if in_use.station != generated.station:
        found.append(f"station: {in_use.station} in the file, {generated.station} in master data")
    mine = {d.code: d.model_dump(mode="json") for d in in_use.devices}
    theirs = {d.code: d.model_dump(mode="json") for d in generated.devices}
    for code in sorted(mine.keys() | theirs.keys()):
        if code not in theirs:
            found.append(f"devices.{code}: in the file, not in master data")
        elif code not in mine:
            found.append(f"devices.{code}: in master data, not in the file")
        else:
            a, b = mine[code], theirs[code]
            found += [f"devices.{code}.{k}: {a.get(k)!r} in the file, {b.get(k)!r} in master data"
                      for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    return found


async def check_file(database_url: str, path: Path) -> list[str]:
    in_use = load_station(path)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        generated = parse_station(await generated_file(conn, in_use.station))
    return differences(in_use, generated)


async def load_list(database_url: str, path: Path) -> tuple[bool, int]:
    """Station role: make this database hold the list the edge keeps on disk; (written, version)."""
    try:
        data = MasterData.model_validate_json(await asyncio.to_thread(path.read_bytes))
    except OSError as exc:
        raise StationConfigError(f"{path}: cannot read the master-data list: {exc.strerror}") from exc
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await copy.apply_list(conn, data), data.version


async def stations_command(args: argparse.Namespace, database_url: str, group: str) -> int:
    """``forecourt stations ACTION``; the exit code (1: the file and master data differ, 2: a rule broken)."""
    try:
        if args.stations_command == "import":
            grades = [g.strip() for g in args.grades.split(",") if g.strip()]
            version = await import_file(database_url, args.file, grades, group=group, region=args.region)
            print(f"已导入站点主数据 (imported), 版本 version {version}", flush=True)
        elif args.stations_command == "yaml":
            print(await station_yaml(database_url, args.code), end="", flush=True)
        elif args.stations_command == "check":
            found = await check_file(database_url, args.file)
            for line in found:
                print(line, flush=True)
            if found:
                print(f"站点文件与主数据不一致 (the station file differs from master data): {len(found)}",
                      file=sys.stderr)
                return 1
            print("站点文件与主数据一致 (the station file agrees with master data)", flush=True)
        elif args.stations_command == "load":
            written, version = await load_list(database_url, args.file)
            print(f"主数据版本 {version} {'已载入 (loaded)' if written else '不比现有的新，未载入 (not newer: kept)'}",
                  flush=True)
    except (MasterDataError, Conflict, LookupError) as exc:
        print(f"站点主数据错误 (master data error): {exc}", file=sys.stderr)
        return 2
    return 0


def station_database_url(head_office_url: str) -> str:
    """The demo's station-server database beside head office's on one PostgreSQL: ``<name>_station``."""
    parts = urlsplit(head_office_url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/') or '/postgres'}_station"))


def create_database(url: str) -> None:
    """Create the database of ``url`` (on the same server) if it is missing, then migrate it."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate(url)


async def follow_list(database_url: str, path: Path, every_s: float = 2.0) -> None:
    """Station role: hold each new list the edge node writes to ``path`` (until cancelled)."""
    await follow_file(path, lambda p: load_list(database_url, p), "master data", every_s)


async def follow_file(path: Path, load: Callable[[Path], Awaitable[tuple[bool, int]]], what: str,
                      every_s: float = 2.0) -> None:
    """Call ``load`` each time the file at ``path`` is replaced (a new inode, time or size), until cancelled;
    ``load`` answers (written, version). A file that does not load yet is tried again."""
    seen: tuple[int, int, int] | None = None
    while True:
        try:
            stat = await asyncio.to_thread(path.stat)
            changed: tuple[int, int, int] | None = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # a rename: new inode
        except FileNotFoundError:
            changed = None
        if changed is not None and changed != seen:
            try:
                written, version = await load(path)
                if written:
                    log.info("station server holds %s version %d", what, version)
                seen = changed
            except (ValueError, OSError, psycopg.Error) as exc:
                log.warning("%s file %s not loaded, trying again: %s", what, path, str(exc)[:300])
        await asyncio.sleep(every_s)


async def seed_demo(database_url: str, path: Path, group: str) -> None:
    """The demo's head office: the demo station's master data (92# and 95# on every fuelling point). Its first
    price set is ``seed_first_prices``, once the edge node listens."""
    try:
        await import_file(database_url, path, ["92", "95"], group=group, region="华东")
    except Conflict:
        log.info("demo station already in master data, edited since: kept as it is")


async def seed_first_prices(database_url: str, station: str, group: str, edge_listens: asyncio.Event) -> None:
    """The demo station's first price set, made once its edge node listens (``EdgeNode.connected``), then idle
    until cancelled. A set is a command, not kept by the broker: one sent before the edge subscribed would wait
    for head office's resend (a minute or two) while the pumps sold under no set."""
    await edge_listens.wait()
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        version = await seed_demo_prices(conn, station, group)
    if version is not None:
        log.info("demo station %s: first price set sent (version %d)", station, version)
    await asyncio.Event().wait()
