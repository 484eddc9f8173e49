"""The one /healthz shape (telemetry/contracts/health.py) and the edge node's constant station label."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from forecourt.health import exposition
from telemetry.contracts.health import check, from_report, health, http_status


def test_status_is_ok_only_when_every_check_passed() -> None:
    ok, bad = check(True, "fine"), check(False, "gone")
    assert health("api", {"database": ok, "live_updates": ok})["status"] == "ok"
    assert health("api", {"database": ok, "live_updates": bad})["status"] == "degraded"
    assert health("api", {"database": bad, "live_updates": bad})["status"] == "down"
    assert [http_status(health("x", {"a": c})) for c in (ok, bad)] == [200, 503]


def test_a_workers_own_report_becomes_one_check_with_its_details() -> None:
    body = health("ingest", from_report("worker", {"ok": False, "stalled": True, "waiting": 3}))
    assert body == {"status": "down", "service": "ingest",
                    "checks": {"worker": {"ok": False, "detail": {"stalled": True, "waiting": 3}}}}


def test_exposition_adds_the_constant_labels_to_every_sample_of_the_registry_only() -> None:
    registry = CollectorRegistry()
    Counter("forecourt_edge_polls", "polls", ["device"], registry=registry).labels("disp-01").inc(2)
    text = exposition([registry], {"station": "st-01"}).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    own = families["forecourt_edge_polls"].samples
    assert own and all(s.labels["station"] == "st-01" for s in own)
    assert {"device": "disp-01", "station": "st-01"} in [s.labels for s in own]
    assert all("station" not in s.labels for name, f in families.items() if name.startswith("python_")
               for s in f.samples), "the standard collectors are not relabelled"
