-- With TimescaleDB present, points become a hypertable partitioned by day.
SELECT create_hypertable('telemetry.points', by_range('ts', INTERVAL '1 day'), migrate_data => true);
