-- telemetry/storage/migrations/0005_rollup_windows.tsdb.sql
-- Late (store-and-forwarded) points up to 30 days old reach the rollups, and the newest buckets are
-- read live from points (real-time aggregates), as the plain tables that ingest refreshes.
SELECT remove_continuous_aggregate_policy('telemetry.points_1m');
SELECT add_continuous_aggregate_policy('telemetry.points_1m', start_offset => INTERVAL '30 days',
                                       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
SELECT remove_continuous_aggregate_policy('telemetry.points_1h');
SELECT add_continuous_aggregate_policy('telemetry.points_1h', start_offset => INTERVAL '30 days',
                                       end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');
ALTER MATERIALIZED VIEW telemetry.points_1m SET (timescaledb.materialized_only = false);
ALTER MATERIALIZED VIEW telemetry.points_1h SET (timescaledb.materialized_only = false);
