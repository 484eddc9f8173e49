"""``forecourt grafana sync`` against a FAKE Grafana: a tiny HTTP server written here that answers the few
documented API endpoints sync uses and records every call (a real Grafana cannot run on these machines).

The fake follows Grafana's HTTP API documentation: ``/api/folders``, ``/api/datasources`` (by uid),
``/api/dashboards/db``, bearer-token auth answering 401, 403 for a role without datasource rights,
404 for an unknown datasource uid, 400 for a dashboard whose folder does not exist.
"""

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from forecourt.cli import main
from forecourt.local import free_port
from grafana.dashboards import DASHBOARDS
from grafana.datasource import datasource_from_url
from grafana.schema import check_dashboard
from grafana.sync import GrafanaSyncError, sync

pytestmark = pytest.mark.integration

TOKEN = "glsa_fake_0123456789"  # noqa: S105 - the fake's token
DB_URL = "postgresql://grafana_reader:s3cret@db.example:5433/forecourt?sslmode=require"
UIDS = {d.uid for d in DASHBOARDS}


class FakeGrafana:
    """Records (method, path, json body) of every request; keeps folders, datasources and dashboards."""

    def __init__(self, token: str = TOKEN, may_write_datasources: bool = True) -> None:
        self.token, self.may_write_datasources = token, may_write_datasources
        self.calls: list[tuple[str, str, Any]] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.calls.append((self.command, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    status, answer = 401, {"message": "invalid API key"}
                else:
                    status, answer = fake.route(self.command, self.path, body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads, self.server.block_on_close = True, False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if (method, path) == ("GET", "/api/folders"):
            return 200, [{"id": f["id"], "uid": f["uid"], "title": f["title"]} for f in self.folders.values()]
        if (method, path) == ("POST", "/api/folders"):
            uid = body.get("uid") or f"gen{next(self._ids)}"
            if uid in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            self.folders[uid] = {"id": next(self._ids), "uid": uid, "title": body["title"], "version": 1}
            return 200, self.folders[uid]
        if path.startswith("/api/datasources/uid/"):
            uid = path.rsplit("/", 1)[1]
            if uid not in self.datasources:
                return 404, {"message": "Data source not found"}
            if method == "GET":
                return 200, self.datasources[uid]
            if method == "PUT":
                if not self.may_write_datasources:
                    return 403, {"message": "You'll need additional permissions: datasources:write"}
                self.datasources[uid] = {**body, "id": self.datasources[uid]["id"]}
                return 200, {"message": "Datasource updated", "datasource": self.datasources[uid]}
        if (method, path) == ("POST", "/api/datasources"):
            if not self.may_write_datasources:
                return 403, {"message": "You'll need additional permissions: datasources:create"}
            if any(d["name"] == body["name"] for d in self.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            self.datasources[body["uid"]] = {**body, "id": next(self._ids)}
            return 200, {"message": "Datasource added", "datasource": self.datasources[body["uid"]]}
        if (method, path) == ("POST", "/api/dashboards/db"):
            dash = body["dashboard"]
            if body.get("folderUid") not in self.folders:
                return 400, {"message": "folder not found"}
            old = self.dashboards.get(dash["uid"])
            if old is not None and not body.get("overwrite"):
                return 412, {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}
            version = old["version"] + 1 if old else 1
            self.dashboards[dash["uid"]] = {"dashboard": dash, "folderUid": body["folderUid"], "version": version}
            return 200, {"id": next(self._ids), "uid": dash["uid"], "url": f"/d/{dash['uid']}/x", "status": "success",
                         "version": version}
        return 404, {"message": "Not found"}

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.calls if m in ("POST", "PUT", "DELETE")]


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    fake = FakeGrafana()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_first_sync_creates_the_folder_the_datasource_and_every_dashboard(grafana: FakeGrafana) -> None:
    report = sync(grafana.url, TOKEN, datasource=datasource_from_url(DB_URL))

    assert [(m, p) for m, p, _ in grafana.calls] == [
        ("GET", "/api/folders"), ("POST", "/api/folders"), ("GET", "/api/datasources/uid/forecourt-pg"),
        ("POST", "/api/datasources"), *[("POST", "/api/dashboards/db")] * len(DASHBOARDS)]
    assert grafana.calls[1][2] == {"title": "Forecourt 加油站", "uid": "forecourt"}
    ds = grafana.datasources["forecourt-pg"]
    assert (ds["type"], ds["url"], ds["user"], ds["jsonData"]["database"], ds["jsonData"]["sslmode"]) == (
        "grafana-postgresql-datasource", "db.example:5433", "grafana_reader", "forecourt", "require")
    assert ds["secureJsonData"] == {"password": "s3cret"}
    assert set(grafana.dashboards) == UIDS
    for pushed in grafana.calls[4:]:
        body = pushed[2]
        assert body["overwrite"] is True and body["folderUid"] == "forecourt" and body["dashboard"]["id"] is None
        assert check_dashboard(body["dashboard"]) == []
    assert (report.folder_uid, report.folder_created, report.datasource) == ("forecourt", True, "created")
    assert sorted(url for _, url in report.dashboards) == sorted(f"/d/{uid}/x" for uid in UIDS)


def test_a_second_sync_updates_in_place(grafana: FakeGrafana) -> None:
    sync(grafana.url, TOKEN, datasource=datasource_from_url(DB_URL))
    grafana.calls.clear()
    report = sync(grafana.url, TOKEN, datasource=datasource_from_url(DB_URL.replace("s3cret", "n3w")))

    assert grafana.writes() == [("PUT", "/api/datasources/uid/forecourt-pg"),
                                *[("POST", "/api/dashboards/db")] * len(DASHBOARDS)]
    assert (len(grafana.folders), len(grafana.datasources), len(grafana.dashboards)) == (1, 1, len(DASHBOARDS))
    assert grafana.datasources["forecourt-pg"]["secureJsonData"] == {"password": "n3w"}
    assert {d["version"] for d in grafana.dashboards.values()} == {2}
    assert (report.folder_created, report.datasource) == (False, "updated")


def test_another_folder_and_no_datasource(grafana: FakeGrafana) -> None:
    sync(grafana.url, TOKEN, folder="华东片区")
    [(_, _, created)] = [c for c in grafana.calls if c[:2] == ("POST", "/api/folders")]
    assert created == {"title": "华东片区"}, "Grafana chooses the uid of a folder that is not ours"
    assert not any("datasources" in p for _, p, _ in grafana.calls)
    uid = next(iter(grafana.folders))
    assert {d["folderUid"] for d in grafana.dashboards.values()} == {uid}


def test_a_wrong_token_is_named_and_nothing_is_written(grafana: FakeGrafana) -> None:
    with pytest.raises(GrafanaSyncError, match=r"401 Unauthorized.*token"):
        sync(grafana.url, "glsa_wrong", datasource=datasource_from_url(DB_URL))
    assert grafana.writes() == []


def test_a_token_without_datasource_rights_says_what_is_missing() -> None:
    fake = FakeGrafana(may_write_datasources=False)
    fake.thread.start()
    try:
        with pytest.raises(GrafanaSyncError, match=r"403 Forbidden.*create the datasource.*Admin.*--no-datasource"):
            sync(fake.url, TOKEN, datasource=datasource_from_url(DB_URL))
        assert fake.dashboards == {}, "it stops at the first refusal"
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def test_an_unreachable_grafana_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(GrafanaSyncError, match=f"cannot reach {url}.*list folders"):
        sync(url, TOKEN, timeout_s=2)


def test_the_cli_prints_where_the_dashboards_are_and_fails_clearly(grafana: FakeGrafana,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    args = ["grafana", "sync", "--url", grafana.url, "--token", TOKEN, "--database-url", DB_URL]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert all(f"{grafana.url}/d/{uid}/x" in out for uid in UIDS) and "forecourt-pg: created" in out
    assert main([*args[:5], "glsa_wrong", *args[6:]]) == 1
    err = capsys.readouterr().err
    assert "401 Unauthorized" in err and "s3cret" not in err
    assert main(["grafana", "sync", "--url", grafana.url, "--token", TOKEN, "--database-url", "mysql://x"]) == 2
    assert "bad database URL" in capsys.readouterr().err
