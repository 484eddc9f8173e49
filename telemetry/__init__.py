"""Telemetry: ingest of Sparkplug B into PostgreSQL/TimescaleDB, storage, queries and alarms."""
