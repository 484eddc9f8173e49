-- Shifts (business_services/shifts), owned by the station server: at most one open shift per station.
-- Payments lock their shift's row FOR SHARE and closing locks it FOR UPDATE, so no payment can land in a
-- shift while it closes (handlers.py).
CREATE TABLE business.shifts (
    shift_no    text PRIMARY KEY,                 -- business_services/numbers.py, letter S
    station     text NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_at   timestamptz NOT NULL,
    opened_by   text NOT NULL,
    closed_at   timestamptz,
    closed_by   text,
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE UNIQUE INDEX shifts_one_open ON business.shifts (station) WHERE status = 'open';
CREATE INDEX shifts_by_station ON business.shifts (station, opened_at DESC);
