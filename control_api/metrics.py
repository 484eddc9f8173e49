"""Prometheus counters of the control API (served on /metrics): the requests it refused, by reason."""

from __future__ import annotations

from prometheus_client import Counter

REFUSED = Counter("forecourt_api_refused_requests_total",
                  "Requests answered with an error instead of doing their work", ["reason"])
