"""The provisioning folder: committed JSON equals what the builders make, the YAML files agree with it,
the datasource comes out right from a database URL, and the dashboards say what they are in both languages."""

import json
import re
from pathlib import Path

import pytest
import yaml

from forecourt.cli import main
from grafana.build import DASHBOARD_DIR, FOLDER_TITLE, FOLDER_UID, PROVISIONING, build, render
from grafana.dashboards import DASHBOARDS
from grafana.datasource import DatasourceError, datasource_from_url
from grafana.model import DATASOURCE_NAME, DATASOURCE_TYPE, DATASOURCE_UID

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_the_committed_json_is_what_the_builders_make() -> None:
    for d in DASHBOARDS:
        path = DASHBOARD_DIR / f"{d.uid}.json"
        assert path.is_file(), f"{path} is missing: run `forecourt grafana build`"
        assert path.read_text(encoding="utf-8") == render(d.to_json()), \
            f"{path.name} is out of date: run `forecourt grafana build` and commit the JSON"
    assert {p.stem for p in DASHBOARD_DIR.glob("*.json")} == {d.uid for d in DASHBOARDS}


def test_the_provisioning_files_point_at_the_same_datasource_and_folder() -> None:
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "forecourt.yaml").read_text(encoding="utf-8"))
    [ds] = datasources["datasources"]
    assert (ds["uid"], ds["type"], ds["name"]) == (DATASOURCE_UID, DATASOURCE_TYPE, DATASOURCE_NAME)
    assert ds["jsonData"]["timescaledb"] is False
    assert ds["secureJsonData"] == {"password": "${GRAFANA_PG_PASSWORD}"}, "from Grafana's environment, never here"
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "forecourt.yaml").read_text(encoding="utf-8"))
    [provider] = providers["providers"]
    assert (provider["folder"], provider["folderUid"], provider["type"]) == (FOLDER_TITLE, FOLDER_UID, "file")
    mounted = Path(provider["options"]["path"])
    assert mounted.parts[-2:] == DASHBOARD_DIR.relative_to(PROVISIONING).parts[-2:], \
        "the provider path is the JSON folder as mounted under /etc/grafana/provisioning"
    for d in DASHBOARDS:
        document = json.loads((DASHBOARD_DIR / f"{d.uid}.json").read_text(encoding="utf-8"))
        refs = {p["datasource"]["uid"] for p in document["panels"] if p["type"] != "row"}
        assert refs == {ds["uid"]}


def test_build_writes_every_dashboard_and_removes_ones_that_are_gone(tmp_path: Path) -> None:
    (tmp_path / "forecourt-old.json").write_text("{}")
    (tmp_path / "someone-elses.json").write_text("{}")
    written = build(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{d.uid}.json" for d in DASHBOARDS] + ["someone-elses.json"])
    assert len(written) == len(DASHBOARDS)


def test_the_cli_builds_into_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grafana", "build", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("forecourt-*.json"))) == len(DASHBOARDS)
    assert "forecourt-fleet.json" in capsys.readouterr().out


def test_titles_are_chinese_and_descriptions_english() -> None:
    assert [d.title for d in DASHBOARDS] == ["站点总览", "油罐详情", "数据质量", "全网总览", "加气分析"]
    for d in DASHBOARDS:
        for panel in d.panels():
            assert CJK.search(panel.title), f"{d.uid}: {panel.title!r} is for people: Chinese"
            assert not CJK.search(panel.description) and len(panel.description) > 20, \
                f"{d.uid} / {panel.title}: say in English what the panel shows"


def test_the_datasource_comes_from_the_database_url() -> None:
    ds = datasource_from_url("postgresql://grafana%40ro:p%2Fw@db.example/fc%2Dprod?sslmode=verify-full")
    assert (ds["uid"], ds["type"], ds["access"]) == (DATASOURCE_UID, DATASOURCE_TYPE, "proxy")
    assert (ds["url"], ds["user"], ds["database"]) == ("db.example:5432", "grafana@ro", "fc-prod")
    assert ds["jsonData"]["sslmode"] == "verify-full" and ds["jsonData"]["database"] == "fc-prod"
    assert ds["secureJsonData"] == {"password": "p/w"}
    assert datasource_from_url("postgresql://u@localhost/db?sslmode=prefer")["jsonData"]["sslmode"] == "disable"


@pytest.mark.parametrize(("url", "problem"), [
    ("mysql://u:pw@h/db", "must look like postgresql://"),
    ("postgresql://h/db", "must name a user and a database"),
    ("postgresql://u:pw@h/", "must name a user and a database"),
    ("postgresql://u:pw@h:port/db", "port that is not a number"),
    ("postgresql://u:pw@h/db?sslmode=verify", "sslmode 'verify'"),
])
def test_a_bad_database_url_is_explained_without_its_password(url: str, problem: str) -> None:
    with pytest.raises(DatasourceError, match=problem) as caught:
        datasource_from_url(url)
    assert "pw" not in str(caught.value)
