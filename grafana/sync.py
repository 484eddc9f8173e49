"""Push the folder, the datasource and the dashboards to a running Grafana through its HTTP API.

Only documented endpoints, through ``grafana_client``:

- folder, create or get by title: ``GET /api/folders``, then ``POST /api/folders`` if it is missing;
- datasource, create or update by uid: ``GET /api/datasources/uid/{uid}``, then
  ``PUT /api/datasources/uid/{uid}`` or ``POST /api/datasources``;
- each dashboard, overwriting: ``POST /api/dashboards/db`` with ``folderUid`` and ``overwrite: true``.

Every failure becomes one ``GrafanaSyncError`` whose message says what was being done and what to
check (wrong token, missing permission, Grafana unreachable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar, cast

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaTimeoutError
from niquests.exceptions import JSONDecodeError, RequestException

from grafana.build import FOLDER_TITLE, FOLDER_UID, dashboard_documents
from grafana.model import DATASOURCE_UID

TIMEOUT_S = 10.0
T = TypeVar("T")
_FAILURES = (GrafanaException, RequestException)


class GrafanaSyncError(RuntimeError):
    """The sync stopped; the message is meant for the person who ran it."""


class _Folders(Protocol):
    def get_all_folders(self) -> list[dict[str, Any]]: ...
    def create_folder(self, title: str, uid: str | None = None) -> dict[str, Any]: ...


class _Datasources(Protocol):
    def get_datasource_by_uid(self, datasource_uid: str) -> dict[str, Any]: ...
    def create_datasource(self, datasource: dict[str, Any]) -> dict[str, Any]: ...
    def update_datasource_by_uid(self, datasource_uid: str, datasource: dict[str, Any]) -> dict[str, Any]: ...


class _Dashboards(Protocol):
    def update_dashboard(self, dashboard: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class SyncReport:
    url: str
    folder_uid: str = ""
    folder_created: bool = False
    datasource: str = "skipped"            # created, updated or skipped
    dashboards: list[tuple[str, str]] = field(default_factory=list)   # (title, url path in Grafana)


def sync(url: str, token: str, *, folder: str = FOLDER_TITLE, datasource: dict[str, Any] | None = None,
         timeout_s: float = TIMEOUT_S) -> SyncReport:
    """Push everything to the Grafana at ``url`` with a service account token.

    ``datasource`` is the body from ``grafana.datasource.datasource_from_url``; ``None`` leaves the
    datasource as it is in Grafana (provisioned from a file, or made by hand with uid ``forecourt-pg``).
    """
    documents = dashboard_documents()          # schema-checked before anything is sent
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        return _push(url, api, folder, datasource, documents)
    finally:
        api.client.s.close()


def _push(url: str, api: Any, folder: str, datasource: dict[str, Any] | None,
          documents: list[dict[str, Any]]) -> SyncReport:
    folders, datasources = cast(_Folders, api.folder), cast(_Datasources, api.datasource)
    dashboards = cast(_Dashboards, api.dashboard)
    report = SyncReport(url)

    existing = _call(url, "list folders", folders.get_all_folders)
    match = next((f for f in existing if f.get("title") == folder), None)
    if match is None:
        created = _call(url, f"create folder {folder!r}",
                        lambda: folders.create_folder(folder, uid=FOLDER_UID if folder == FOLDER_TITLE else None))
        report.folder_uid, report.folder_created = str(created["uid"]), True
    else:
        report.folder_uid = str(match["uid"])

    if datasource is not None:
        if _exists(url, lambda: datasources.get_datasource_by_uid(DATASOURCE_UID)):
            _call(url, "update the datasource", lambda: datasources.update_datasource_by_uid(DATASOURCE_UID,
                                                                                              datasource))
            report.datasource = "updated"
        else:
            _call(url, "create the datasource", lambda: datasources.create_datasource(datasource))
            report.datasource = "created"

    for document in documents:
        body = {"dashboard": {**document, "id": None}, "folderUid": report.folder_uid, "overwrite": True,
                "message": "forecourt grafana sync"}
        answer = _call(url, f"save dashboard {document['title']}", partial(dashboards.update_dashboard, body))
        report.dashboards.append((str(document["title"]), str(answer.get("url", ""))))
    return report


def _exists(url: str, get: Callable[[], object]) -> bool:
    try:
        get()
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return False
        raise _explain(url, "look up the datasource", exc) from exc
    except _FAILURES as exc:
        raise _explain(url, "look up the datasource", exc) from exc
    return True


def _call(url: str, what: str, request: Callable[[], T]) -> T:
    try:
        return request()
    except _FAILURES as exc:
        raise _explain(url, what, exc) from exc


def _explain(url: str, what: str, exc: Exception) -> GrafanaSyncError:
    """One clear sentence for each way a Grafana API call fails."""
    if isinstance(exc, GrafanaTimeoutError):
        return GrafanaSyncError(f"Grafana 无响应 (no answer from {url} within the timeout) while trying to {what}")
    if isinstance(exc, GrafanaException):
        status, message = exc.status_code, _message(exc.response) or exc.message
        if status == 401:
            return GrafanaSyncError(f"Grafana 拒绝了令牌 (401 Unauthorized) while trying to {what}: the token is "
                                    "wrong, expired or for another Grafana; make a service account token "
                                    "(docs/grafana.md)")
        if status == 403:
            return GrafanaSyncError(f"权限不足 (403 Forbidden) while trying to {what}: {message}. The service "
                                    "account needs the Admin role to write datasources (Editor is enough for "
                                    "folders and dashboards: sync with --no-datasource)")
        if status == 0:
            return GrafanaSyncError(f"无法连接 Grafana (cannot talk to {url}) while trying to {what}: {message}")
        return GrafanaSyncError(f"Grafana answered {status} while trying to {what}: {message}")
    if isinstance(exc, JSONDecodeError):
        return GrafanaSyncError(f"{url} did not answer like Grafana while trying to {what} (not JSON): give "
                                "Grafana's root URL, e.g. http://grafana.example:3000")
    return GrafanaSyncError(f"无法连接 Grafana (cannot reach {url}) while trying to {what}: {exc}. Is the URL right "
                            "and Grafana running?")


def _message(response: Any) -> str:
    if isinstance(response, dict):
        return str(response.get("message", "")) or str(response)
    return str(response or "")
