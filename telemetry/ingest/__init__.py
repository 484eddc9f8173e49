"""Ingest workers: Sparkplug B from MQTT into committed rows."""
