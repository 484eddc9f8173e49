-- TimescaleDB: compression, retention and continuous aggregates at 1 min and 1 h.
-- Same column names as the plain-PostgreSQL variant (0003_rollups.plain.sql), so queries serve both.
ALTER TABLE telemetry.points SET (timescaledb.compress, timescaledb.compress_segmentby = 'metric_id',
                                  timescaledb.compress_orderby = 'ts DESC');
SELECT add_compression_policy('telemetry.points', INTERVAL '7 days');
SELECT add_retention_policy('telemetry.points', INTERVAL '400 days');

CREATE MATERIALIZED VIEW telemetry.points_1m WITH (timescaledb.continuous) AS
SELECT metric_id, time_bucket(INTERVAL '1 minute', ts) AS bucket,
       min(value) AS min_value, max(value) AS max_value, avg(value) AS avg_value,
       last(value, ts) AS last_value, count(*) AS samples
FROM telemetry.points GROUP BY metric_id, time_bucket(INTERVAL '1 minute', ts) WITH NO DATA;
SELECT add_continuous_aggregate_policy('telemetry.points_1m', start_offset => INTERVAL '2 hours',
                                       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

CREATE MATERIALIZED VIEW telemetry.points_1h WITH (timescaledb.continuous) AS
SELECT metric_id, time_bucket(INTERVAL '1 hour', ts) AS bucket,
       min(value) AS min_value, max(value) AS max_value, avg(value) AS avg_value,
       last(value, ts) AS last_value, count(*) AS samples
FROM telemetry.points GROUP BY metric_id, time_bucket(INTERVAL '1 hour', ts) WITH NO DATA;
SELECT add_continuous_aggregate_policy('telemetry.points_1h', start_offset => INTERVAL '3 days',
                                       end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');
SELECT add_retention_policy('telemetry.points_1m', INTERVAL '800 days');
