-- The alias each metric had in its node's latest birth, so that a worker that restarts (or joins a shared
-- subscription after the births) can still name alias-only data messages.
ALTER TABLE telemetry.metrics ADD COLUMN alias bigint;
