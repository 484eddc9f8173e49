-- Plain PostgreSQL: the rollups are tables that the ingest service refreshes (telemetry/storage/rollups.py).
-- Same column names as the TimescaleDB continuous aggregates (0003_rollups.tsdb.sql).
CREATE TABLE telemetry.points_1m (
    metric_id  integer NOT NULL,
    bucket     timestamptz NOT NULL,
    min_value  double precision,
    max_value  double precision,
    avg_value  double precision,
    last_value double precision,
    samples    bigint NOT NULL,
    PRIMARY KEY (metric_id, bucket)
);
CREATE TABLE telemetry.points_1h (LIKE telemetry.points_1m INCLUDING ALL);
CREATE INDEX points_ts ON telemetry.points (ts);
