"""Prometheus metrics of the ingest worker."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("forecourt_ingest_messages_total", "MQTT messages received", ["type"])
ROWS = Counter("forecourt_ingest_rows_total", "Point rows committed (new ones only)")
DEAD_LETTERS = Counter("forecourt_ingest_dead_letters_total",
                       "Messages kept as dead letters (undecodable, over a limit, or refused by the database)")
SEQ_GAPS = Counter("forecourt_ingest_seq_gaps_total", "Sequence gaps or data before birth")
REBIRTHS = Counter("forecourt_ingest_rebirth_requests_total", "Rebirth requests sent")
DB_ERRORS = Counter("forecourt_ingest_db_errors_total", "Failed batch writes (retried)")
BATCH_SIZE = Histogram("forecourt_ingest_batch_messages", "Messages per committed batch",
                       buckets=(1, 5, 10, 50, 100, 500, 1000, 5000))
QUEUE_DEPTH = Gauge("forecourt_ingest_queue_depth", "Messages received but not yet committed")
LAG = Gauge("forecourt_ingest_lag_seconds", "Commit time minus the newest source timestamp of the last batch")
STALLED_SECONDS = Gauge("forecourt_ingest_seconds_without_commit",
                        "Seconds that received messages have waited with no commit (0 when none wait); "
                        "/healthz turns red past the stall limit")
