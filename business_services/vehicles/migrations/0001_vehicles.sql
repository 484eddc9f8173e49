-- Vehicles at head office (business_services/vehicles; docs/vehicles.md): a plate belongs to at most one
-- member (several vehicles per member); fleet_id is for the fleets issue (NULL until then). Entry/exit records
-- are filled by the vision issue later (an API adds one now). Blocked plates are listed to every station.
CREATE TABLE business.vehicles (
    id          bigserial PRIMARY KEY,
    plate       text NOT NULL UNIQUE,
    member_no   text REFERENCES business.members (member_no),
    fleet_id    bigint,
    model       text NOT NULL DEFAULT '' CHECK (length(model) <= 32),
    colour      text NOT NULL DEFAULT '' CHECK (length(colour) <= 16),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vehicles_by_member ON business.vehicles (member_no);

CREATE TABLE business.vehicle_passages (
    id          bigserial PRIMARY KEY,
    plate       text NOT NULL,
    station     text NOT NULL,
    lane        text NOT NULL DEFAULT '',
    direction   text NOT NULL CHECK (direction IN ('entry', 'exit')),
    at          timestamptz NOT NULL,
    source      text NOT NULL CHECK (source IN ('manual', 'vision')),
    confidence  numeric(4, 3) CHECK (confidence BETWEEN 0 AND 1),
    recorded_by text NOT NULL,
    UNIQUE (station, plate, direction, at)         -- the same sighting twice is one record
);
CREATE INDEX vehicle_passages_by_time ON business.vehicle_passages (at DESC, id DESC);
CREATE INDEX vehicle_passages_by_plate ON business.vehicle_passages (plate, at DESC);

CREATE TABLE business.blocked_plates (
    plate       text PRIMARY KEY,
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    blocked_by  text NOT NULL,
    blocked_at  timestamptz NOT NULL DEFAULT now()
);
