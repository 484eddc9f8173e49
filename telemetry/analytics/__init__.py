"""Figures computed from stored telemetry for the API and Grafana (gas side: ``gas``, its SQL: ``gas_queries``)."""
