"""Station master data at head office: seeded from today's station file, the edge's file generated from it,
every change audited and versioned, and the new list written to the outbox for the station."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from pwdlib import PasswordHash

from business_services.access.demo import seed_demo_company
from business_services.audit.model import Actor
from business_services.stations import handlers, views
from business_services.stations.model import Device, MasterDataError, Nozzle
from business_services.unit_of_work import UnitOfWork
from edge_nodes.station import load_station, parse_station
from forecourt.stations import check_file, import_file, station_yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "config" / "stations" / "demo.yaml"
MANAGER = Actor("wang.zhanzhang", "10.0.0.8", user_id=3)


async def one(conn: psycopg.AsyncConnection, query: str, *params: Any) -> Any:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return None if row is None else (row[0] if len(row) == 1 else row)


async def test_the_generated_station_file_loads_and_equals_the_demo_file(database_url: str, tmp_path: Path) -> None:
    assert await import_file(database_url, DEMO, ["92", "95"], group="demo-co", region="华东") == 1
    text = await station_yaml(database_url, "demo-01")
    (tmp_path / "generated.yaml").write_text(text, encoding="utf-8")
    generated, demo = load_station(tmp_path / "generated.yaml"), load_station(DEMO)
    assert [d.model_dump() for d in generated.devices] == [d.model_dump() for d in demo.devices]
    assert (generated.station, generated.name) == (demo.station, demo.name)
    assert await check_file(database_url, DEMO) == []


async def test_the_check_names_what_the_file_in_use_says_differently(database_url: str, tmp_path: Path) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    changed = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    changed["devices"][0]["nozzles_per_point"] = 3
    (tmp_path / "in-use.yaml").write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    assert await check_file(database_url, tmp_path / "in-use.yaml") == [
        "devices.disp-01.nozzles_per_point: 3 in the file, 2 in master data"]


async def test_importing_the_same_file_again_changes_nothing(database_url: str) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    assert await import_file(database_url, DEMO, ["92", "95"], group="demo-co") == 1
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert await one(conn, "SELECT count(*) FROM business.audit_log") == 1
        assert await one(conn, "SELECT count(*) FROM business.outbox") == 1
        assert await one(conn, "SELECT count(*) FROM business.stations_nozzles WHERE station = 'demo-01'") == 4


async def test_a_nozzle_grade_change_is_audited_versioned_and_sent_to_the_station(database_url: str) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        async with UnitOfWork(conn, MANAGER) as uow:
            version = await handlers.put_nozzle(handlers.PutNozzle("demo-01", Nozzle("disp-01", 1, 1, "95")), uow)
        assert version == 2
        assert await one(conn, "SELECT version FROM business.stations WHERE code = 'demo-01'") == 2
        assert await one(conn, "SELECT actor, action, target, before, after FROM business.audit_log WHERE seq = 2") == (
            "wang.zhanzhang", "stations.nozzle.put", "demo-01/disp-01/fp1/n1",
            {"device": "disp-01", "fuelling_point": 1, "number": 1, "grade": "92"},
            {"device": "disp-01", "fuelling_point": 1, "number": 1, "grade": "95"})
        topic, event = await one(conn, "SELECT topic, payload FROM business.outbox ORDER BY seq DESC LIMIT 1")
        assert topic == "forecourt/v1/demo-co/demo-01/commands/command.replace_master_data"
        assert event["id"] == "master-data/demo-01/2"
        assert event["data"]["version"] == 2
        assert {(n["fuelling_point"], n["number"]): n["grade"] for n in event["data"]["nozzles"]} == {
            (1, 1): "95", (1, 2): "95", (2, 1): "92", (2, 2): "95"}
        assert event["data"]["users"] == []          # filled once the access context lands

        async with UnitOfWork(conn, MANAGER) as uow:      # the same request again: nothing changes
            assert await handlers.put_nozzle(handlers.PutNozzle("demo-01", Nozzle("disp-01", 1, 1, "95")), uow) == 2
        assert await one(conn, "SELECT count(*) FROM business.audit_log") == 2
        assert await one(conn, "SELECT count(*) FROM business.outbox") == 2


async def test_a_grade_no_tank_holds_is_refused_and_nothing_changes(database_url: str) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        with pytest.raises(MasterDataError) as refused:
            async with UnitOfWork(conn, MANAGER) as uow:
                await handlers.put_nozzle(handlers.PutNozzle("demo-01", Nozzle("disp-01", 1, 1, "98")), uow)
        assert refused.value.field == "grade"
        assert "98#汽油" in refused.value.message
        assert await one(conn, "SELECT version FROM business.stations WHERE code = 'demo-01'") == 1
        assert await one(conn, "SELECT count(*) FROM business.audit_log") == 1
        data = await views.master_data(conn, "demo-01")
    assert {n["grade"] for n in data.nozzles} == {"92", "95"}


async def test_a_grade_change_that_would_strand_nozzles_is_refused(database_url: str) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        with pytest.raises(MasterDataError):
            async with UnitOfWork(conn, MANAGER) as uow:
                await handlers.remove_tank(handlers.RemoveTank("demo-01", 1), uow)
        assert await one(conn, "SELECT count(*) FROM business.stations_tanks") == 2


async def test_the_list_is_valid_for_the_edge(database_url: str) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        data = await views.master_data(conn, "demo-01")
    station = parse_station({"station": data.station_code, "devices": data.devices})
    assert [d.code for d in station.devices] == ["disp-01", "chargers"]
    assert [g["name"] for g in data.grades] == ["92#汽油", "95#汽油"]


async def test_the_list_carries_the_station_users_with_hashes_for_offline_login(database_url: str) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        logins = {d.username: d for d in await seed_demo_company(conn)}
        await conn.commit()
        data = await views.master_data(conn, "demo-01")
    users = {u.username: u for u in data.users}
    assert {"manager", "cashier", "attendant", "region"} <= set(users)     # the station's own and its region's
    assert "admin" not in users and "finance" not in users                 # company-wide users log in online
    assert users["cashier"].roles == ["cashier"] and users["cashier"].password_hash.startswith("$argon2")
    assert PasswordHash.recommended().verify(logins["cashier"].password, users["cashier"].password_hash)
    assert all(logins[name].password not in user.model_dump_json() for name, user in users.items())


async def test_a_change_that_would_make_the_list_too_big_to_send_is_refused(database_url: str) -> None:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        with pytest.raises(MasterDataError, match="KiB"):
            async with UnitOfWork(conn, MANAGER) as uow:
                await handlers.put_device(handlers.PutDevice(
                    "demo-01", Device("cam-lane1", "camera", {"protocol": "camera-http", "note": "x" * 70_000})), uow)
        assert await one(conn, "SELECT count(*) FROM business.stations_devices WHERE code = 'cam-lane1'") == 0
        assert await one(conn, "SELECT version FROM business.stations") == 1
