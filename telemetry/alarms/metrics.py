"""The alarm service's Prometheus series, in its own registry (docs/architecture.md "One registry per service")."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)
EVALUATIONS = Counter("forecourt_alarms_evaluations_total", "(rule, source) pairs evaluated", registry=REGISTRY)
TRANSITIONS = Counter("forecourt_alarms_transitions_total", "Alarm transitions written, by event type", ["type"],
                      registry=REGISTRY)
PUBLISHED = Counter("forecourt_alarms_published_total", "alarm outbox rows the broker acknowledged",
                    registry=REGISTRY)
COPIED = Counter("forecourt_alarms_copied_total", "Messages from the other role applied (copies, acknowledgements)",
                 registry=REGISTRY)
