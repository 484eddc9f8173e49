"""The one ``/healthz`` shape of every Forecourt service (edge, ingest, business, the control API)::

    {"status": "ok" | "degraded" | "down", "service": "<name>", "checks": {"<name>": {"ok": bool, "detail": …}}}

HTTP 200 when ``status`` is ``ok`` (every check passed), 503 otherwise: ``down`` when no check
passed, ``degraded`` when some did. See docs/architecture.md (Health and metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

Status = Literal["ok", "degraded", "down"]


class Check(TypedDict):
    ok: bool
    detail: object


class Health(TypedDict):
    status: Status
    service: str
    checks: dict[str, Check]


def check(ok: bool, detail: object = None) -> Check:
    return {"ok": bool(ok), "detail": detail}


def health(service: str, checks: Mapping[str, Check]) -> Health:
    """The ``/healthz`` body: ok when every check passed, down when none did, degraded in between."""
    passed = [c["ok"] for c in checks.values()]
    status: Status = "ok" if all(passed) else "down" if not any(passed) else "degraded"
    return {"status": status, "service": service, "checks": dict(checks)}


def http_status(body: Health) -> int:
    return 200 if body["status"] == "ok" else 503


def from_report(name: str, report: Mapping[str, object]) -> dict[str, Check]:
    """One check out of a worker's own report (``{"ok": bool, …details}``): its other keys are the detail."""
    return {name: check(bool(report.get("ok")), {k: v for k, v in report.items() if k != "ok"})}
