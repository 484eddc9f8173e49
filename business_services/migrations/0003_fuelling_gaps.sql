-- Fuel that left a nozzle without a transaction the platform could read (fuelling.gap events).
-- Recorded once per event id; open until the station settles it (against the POS's sales or the
-- dispenser's tax-module records), with who settled it, when and how.
CREATE TABLE business.fuelling_gaps (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id              text NOT NULL UNIQUE,
    station               text NOT NULL,
    pump                  text NOT NULL,
    fuelling_point        smallint NOT NULL,
    nozzle                smallint NOT NULL,
    grade                 integer NOT NULL,
    missing_transactions  bigint[] NOT NULL DEFAULT '{}',   -- the pump's numbers no longer held; may be empty
    totalizer_from_l      numeric(16, 2) NOT NULL,
    totalizer_to_l        numeric(16, 2) NOT NULL,
    volume_l              numeric(12, 2) NOT NULL,
    detected_at           timestamptz NOT NULL,
    recorded_at           timestamptz NOT NULL DEFAULT now(),
    status                text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'settled')),
    settled_at            timestamptz,
    settled_by            text,
    settlement_note       text,
    CHECK (volume_l > 0 AND totalizer_to_l - totalizer_from_l = volume_l),
    CHECK ((status = 'open') = (settled_at IS NULL))
);
CREATE INDEX fuelling_gaps_open ON business.fuelling_gaps (station, detected_at) WHERE status = 'open';
