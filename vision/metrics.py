"""The vision service's Prometheus series (``/metrics`` on ``FORECOURT_VISION_METRICS_PORT``), by camera."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry(auto_describe=True)
FRAMES = Counter("forecourt_vision_frames_read_total", "Frames read from a camera", ["camera"], registry=REGISTRY)
SKIPPED = Counter("forecourt_vision_frames_skipped_total", "Frames not read for a plate, by reason",
                  ["camera", "reason"], registry=REGISTRY)     # camera "-": the event queue's drops
RECOGNITIONS = Counter("forecourt_vision_recognitions_total", "vehicle.recognized events published", ["camera"],
                       registry=REGISTRY)
RECONNECTS = Counter("forecourt_vision_camera_reconnects_total", "Times a camera was lost and opened again",
                     ["camera"], registry=REGISTRY)
QUEUED = Gauge("forecourt_vision_events_queued", "Events kept on disk until the broker has them",
               registry=REGISTRY)
