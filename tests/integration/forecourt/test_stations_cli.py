"""``forecourt stations import|yaml|check|load`` as an operator runs them, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import psycopg
import pytest
import yaml

from edge_nodes.master_data import MasterDataStore
from edge_nodes.station import load_station
from forecourt.cli import main
from forecourt.stations import follow_list
from telemetry.contracts.master_data import MasterData

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[3] / "config" / "stations" / "demo.yaml"


def test_import_generate_check_and_load(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORECOURT_DATABASE_URL", database_url)
    assert main(["stations", "import", str(DEMO), "--grades", "92,95", "--region", "华东"]) == 0
    assert "版本 version 1" in capsys.readouterr().out
    assert main(["stations", "yaml", "demo-01"]) == 0
    (tmp_path / "demo-01.yaml").write_text(capsys.readouterr().out, encoding="utf-8")
    assert load_station(tmp_path / "demo-01.yaml").devices == load_station(DEMO).devices
    assert main(["stations", "check", str(DEMO)]) == 0

    changed = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    changed["devices"][0]["port"] = 5021
    (tmp_path / "in-use.yaml").write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    capsys.readouterr()
    assert main(["stations", "check", str(tmp_path / "in-use.yaml")]) == 1
    assert "devices.disp-01.port: 5021 in the file, 5020 in master data" in capsys.readouterr().out

    assert main(["stations", "import", str(DEMO), "--grades", "98"]) == 2     # a grade for each nozzle
    assert main(["stations", "yaml", "nowhere-01"]) == 2


def test_the_station_server_loads_the_edges_list(database_url: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    body = ('{"version": 4, "station_code": "demo-01", "station": {"code": "demo-01", "name": "演示站", '
            '"company_group": "demo-co"}, "devices": [{"code": "disp-01", "kind": "dispenser", "host": "127.0.0.1", '
            '"port": 5020, "profile": "dispenser-v1", "fuelling_points": 1, "nozzles_per_point": 1}], '
            '"grades": [], "tanks": [{"number": 1, "grade": "92", "capacity_l": 30000}], '
            '"nozzles": [{"device": "disp-01", "fuelling_point": 1, "number": 1, "grade": "92"}]}')
    (tmp_path / "list.json").write_text(body, encoding="utf-8")
    monkeypatch.setenv("FORECOURT_DATABASE_URL", database_url)
    monkeypatch.setenv("FORECOURT_ROLE", "station")
    assert main(["stations", "load", str(tmp_path / "list.json")]) == 0
    assert main(["stations", "load", str(tmp_path / "list.json")]) == 0
    out = capsys.readouterr().out
    assert "主数据版本 4 已载入" in out and "不比现有的新" in out
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT version FROM business.stations").fetchall() == [(4,)]
        assert conn.execute("SELECT device, grade FROM business.stations_nozzles").fetchall() == [("disp-01", "92")]


async def test_the_station_server_follows_each_new_list_the_edge_writes(database_url: str, tmp_path: Path) -> None:
    """What ``forecourt demo``'s station server runs: the list file is read again whenever it changes."""
    store = MasterDataStore(tmp_path / "demo-01.master-data.json")

    def version_(n: int, grade: str) -> MasterData:
        return MasterData(version=n, station_code="demo-01",
                          station={"code": "demo-01", "name": "演示站", "company_group": "demo-co"},
                          devices=[{"code": "disp-01", "kind": "dispenser", "profile": "dispenser-v1"}], grades=[],
                          tanks=[{"number": 1, "grade": grade, "capacity_l": 30000}],
                          nozzles=[{"device": "disp-01", "fuelling_point": 1, "number": 1, "grade": grade}])

    async def held() -> object:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            cur = await conn.execute("SELECT s.version, n.grade FROM business.stations s "
                                     "JOIN business.stations_nozzles n ON n.station = s.code")
            return await cur.fetchone()

    follower = asyncio.create_task(follow_list(database_url, store.path or tmp_path, every_s=0.05))
    try:
        store.offer(version_(1, "92"))
        for _ in range(200):
            if await held() == (1, "92"):
                break
            await asyncio.sleep(0.05)
        assert await held() == (1, "92")
        store.offer(version_(2, "95"))
        for _ in range(200):
            if await held() == (2, "95"):
                break
            await asyncio.sleep(0.05)
        assert await held() == (2, "95")
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
