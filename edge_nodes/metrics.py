"""Prometheus metrics of the edge node (scraped from its /metrics endpoint)."""

from prometheus_client import Counter, Gauge, Histogram

POLLS = Counter("forecourt_edge_polls_total", "Device polls by outcome", ["device", "outcome"])
POLL_LATENCY = Histogram("forecourt_edge_poll_seconds", "Time to poll one device", ["device"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
SCHEDULE_MISSES = Counter("forecourt_edge_schedule_misses_total", "Polls that started late", ["device"])
PUBLISHED = Counter("forecourt_edge_messages_published_total", "MQTT messages published", ["type"])
PUBLISH_ERRORS = Counter("forecourt_edge_publish_errors_total", "MQTT connection or publish failures")
REFUSED = Counter("forecourt_edge_publishes_refused_total", "Publishes the broker refused (e.g. not authorised)")
QUEUE_DEPTH = Gauge("forecourt_edge_queue_depth", "Snapshots waiting to be published")
DEVICE_UP = Gauge("forecourt_edge_device_up", "1 when the device answers", ["device"])
FUELLING_GAPS = Counter("forecourt_edge_fuelling_gaps_total",
                        "Breaks in a nozzle's totalizer chain, sent as fuelling.gap (alarm on any rise)",
                        ["device"])
FUELLING_GAP_LITRES = Counter("forecourt_edge_fuelling_gap_litres_total",
                              "Litres that left a nozzle without a transaction the edge could read", ["device"])
FUELLINGS_MISSING = Counter("forecourt_edge_fuelling_transactions_missing_total",
                            "Transaction numbers the pump no longer held when the edge read them back", ["device"])
TOTALIZER_ANOMALIES = Counter("forecourt_edge_totalizer_anomalies_total",
                              "Fuellings whose totalizers do not fit the chain (went back, overlap)",
                              ["device"])
EVENTS_UNBUILDABLE = Counter("forecourt_edge_events_unbuildable_total",
                             "Device records that break their event's payload rules: logged and skipped", ["type"])
