"""Grafana dashboards as code (``grafana.dashboards``), the provisioning folder a stock Grafana loads, and
``forecourt grafana build`` / ``sync`` (docs/grafana.md)."""
