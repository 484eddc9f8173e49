"""Prometheus metrics of the edge node (scraped from its /metrics endpoint).

Every edge series lives in ``REGISTRY`` (not prometheus_client's global one), so a process that also
runs other services never mixes their series into the edge node's /metrics; ``forecourt/services.py``
serves it with a constant ``station`` label. Edge series declared elsewhere (outbox, commands, TLS
frames, OCPP) use the same registry.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

POLLS = Counter("forecourt_edge_polls_total", "Device polls by outcome", ["device", "outcome"], registry=REGISTRY)
POLL_LATENCY = Histogram("forecourt_edge_poll_seconds", "Time to poll one device", ["device"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=REGISTRY)
SCHEDULE_MISSES = Counter("forecourt_edge_schedule_misses_total", "Polls that started late", ["device"],
                          registry=REGISTRY)
PUBLISHED = Counter("forecourt_edge_messages_published_total", "MQTT messages published", ["type"], registry=REGISTRY)
PUBLISH_ERRORS = Counter("forecourt_edge_publish_errors_total", "MQTT connection or publish failures",
                         registry=REGISTRY)
REFUSED = Counter("forecourt_edge_publishes_refused_total", "Publishes the broker refused (e.g. not authorised)",
                  registry=REGISTRY)
QUEUE_DEPTH = Gauge("forecourt_edge_queue_depth", "Snapshots waiting to be published", registry=REGISTRY)
DEVICE_UP = Gauge("forecourt_edge_device_up", "1 when the device answers", ["device"], registry=REGISTRY)
FUELLING_GAPS = Counter("forecourt_edge_fuelling_gaps_total",
                        "Breaks in a nozzle's totalizer chain, sent as fuelling.gap (alarm on any rise)",
                        ["device"], registry=REGISTRY)
FUELLING_GAP_LITRES = Counter("forecourt_edge_fuelling_gap_litres_total",
                              "Litres that left a nozzle without a transaction the edge could read", ["device"],
                              registry=REGISTRY)
FUELLINGS_MISSING = Counter("forecourt_edge_fuelling_transactions_missing_total",
                            "Transaction numbers the pump no longer held when the edge read them back", ["device"],
                            registry=REGISTRY)
TOTALIZER_ANOMALIES = Counter("forecourt_edge_totalizer_anomalies_total",
                              "Fuellings whose totalizers do not fit the chain (went back, overlap)",
                              ["device"], registry=REGISTRY)
EVENTS_UNBUILDABLE = Counter("forecourt_edge_events_unbuildable_total",
                             "Device records that break their event's payload rules: logged and skipped", ["type"],
                             registry=REGISTRY)
PRICE_REPORTS = Counter("forecourt_edge_price_reports_total",
                        "Nozzle price states reported as price.applied (alarm on a rise of refused)",
                        ["device", "state"], registry=REGISTRY)
