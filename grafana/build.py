"""Turn the dashboards into the JSON files of the provisioning folder, after the schema check.

``grafana/provisioning/`` is what a stock Grafana loads at start (mount it as
``/etc/grafana/provisioning``): ``datasources/forecourt.yaml``, ``dashboards/forecourt.yaml`` and
the generated ``dashboards/forecourt/<uid>.json``. ``forecourt grafana build`` rewrites the JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana.dashboards import DASHBOARDS
from grafana.model import Dashboard
from grafana.schema import require_valid

PROVISIONING = Path(__file__).parent / "provisioning"
DASHBOARD_DIR = PROVISIONING / "dashboards" / "forecourt"
#: the folder the provisioning file and ``forecourt grafana sync`` put the dashboards in by default
FOLDER_TITLE = "Forecourt 加油站"
FOLDER_UID = "forecourt"


def dashboard_documents(dashboards: tuple[Dashboard, ...] = DASHBOARDS) -> list[dict[str, Any]]:
    """The dashboards as JSON documents; raises ``DashboardError`` if any fails the schema check."""
    documents = [d.to_json() for d in dashboards]
    require_valid(documents)
    return documents


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def build(out: Path = DASHBOARD_DIR) -> list[Path]:
    """Write one ``<uid>.json`` per dashboard into ``out``; earlier ``forecourt-*.json`` that are gone are removed."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for document in dashboard_documents():
        path = out / f"{document['uid']}.json"
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    for stale in set(out.glob("forecourt-*.json")) - set(written):
        stale.unlink()
    return written
