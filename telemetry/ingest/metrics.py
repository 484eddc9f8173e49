"""Prometheus metrics of the ingest worker, in its own ``REGISTRY`` (declare new series with ``registry=REGISTRY``)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter("forecourt_ingest_messages_total", "MQTT messages received", ["type"], registry=REGISTRY)
ROWS = Counter("forecourt_ingest_rows_total", "Point rows committed (new ones only)", registry=REGISTRY)
DEAD_LETTERS = Counter("forecourt_ingest_dead_letters_total",
                       "Messages kept as dead letters (undecodable, over a limit, or refused by the database)",
                       registry=REGISTRY)
SEQ_GAPS = Counter("forecourt_ingest_seq_gaps_total", "Sequence gaps or data before birth", registry=REGISTRY)
REBIRTHS = Counter("forecourt_ingest_rebirth_requests_total", "Rebirth requests sent", registry=REGISTRY)
DB_ERRORS = Counter("forecourt_ingest_db_errors_total", "Failed batch writes (retried)", registry=REGISTRY)
BATCH_SIZE = Histogram("forecourt_ingest_batch_messages", "Messages per committed batch",
                       buckets=(1, 5, 10, 50, 100, 500, 1000, 5000), registry=REGISTRY)
QUEUE_DEPTH = Gauge("forecourt_ingest_queue_depth", "Messages received but not yet committed", registry=REGISTRY)
LAG = Gauge("forecourt_ingest_lag_seconds", "Commit time minus the newest source timestamp of the last batch",
            registry=REGISTRY)
STALLED_SECONDS = Gauge("forecourt_ingest_seconds_without_commit",
                        "Seconds that received messages have waited with no commit (0 when none wait); "
                        "/healthz turns red past the stall limit", registry=REGISTRY)
