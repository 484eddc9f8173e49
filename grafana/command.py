"""``forecourt grafana build`` and ``forecourt grafana sync``: what they print and their exit codes.

Exit codes: 0 done, 1 Grafana refused or could not be reached (the message says which), 2 the
command line or database URL is wrong.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urljoin

from grafana.alerts import RuleFileError, build_alerts
from grafana.build import DASHBOARD_DIR, FOLDER_TITLE, build
from grafana.datasource import DatasourceError, datasource_from_url
from grafana.schema import DashboardError


def build_command(out: Path | None = None) -> int:
    try:
        written = build(out or DASHBOARD_DIR)
    except DashboardError as exc:
        print(f"仪表盘检查失败 (dashboard check failed):\n{exc}", file=sys.stderr)
        return 1
    try:
        alerts = build_alerts() if out is None else build_alerts(out=out / "alerting" / "forecourt-alarms.yaml")
    except RuleFileError as exc:
        print(f"报警规则文件有误 (alarm rule file): {exc}", file=sys.stderr)
        return 1
    for path in [*written, *([alerts] if alerts else [])]:
        print(f"写入 (wrote) {path}")
    return 0


def sync_command(url: str, token: str, *, folder: str = FOLDER_TITLE, database_url: str | None = None,
                 with_datasource: bool = True) -> int:
    """Push to Grafana; the datasource comes from ``database_url`` (the address as Grafana reaches it)."""
    from grafana.sync import GrafanaSyncError, sync

    datasource = None
    if with_datasource:
        if not database_url:
            print("缺少数据库地址 (no database URL): give --database-url postgresql://user:password@host:5432/db "
                  "as Grafana reaches it, set FORECOURT_DATABASE_URL, or pass --no-datasource to keep the "
                  "datasource Grafana has", file=sys.stderr)
            return 2
        try:
            datasource = datasource_from_url(database_url)
        except DatasourceError as exc:
            print(f"数据库地址错误 (bad database URL): {exc}", file=sys.stderr)
            return 2
    try:
        report = sync(url, token, folder=folder, datasource=datasource)
    except (GrafanaSyncError, DashboardError) as exc:
        print(f"Grafana 同步失败 (sync failed): {exc}", file=sys.stderr)
        return 1
    made = "created" if report.folder_created else "found"
    print(f"文件夹 (folder) {folder!r}: {made}, uid {report.folder_uid}")
    print(f"数据源 (datasource) forecourt-pg: {report.datasource}")
    for title, path in report.dashboards:
        print(f"仪表盘 (dashboard) {title}: {urljoin(url, path)}")
    return 0
