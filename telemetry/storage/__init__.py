"""SQL migrations and the repositories that write telemetry."""
