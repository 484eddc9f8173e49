-- The station server's prices (business_services/station_prices): the price sets its edge node held (copied from
-- the edge's price-set file, never edited here) and the newest price.applied report per nozzle and version.
CREATE TABLE business.station_price_sets (
    station       text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    effective_at  timestamptz NOT NULL,
    change_no     text NOT NULL DEFAULT '',
    reason        text NOT NULL DEFAULT '',
    grades        jsonb NOT NULL,                  -- {"92": 802, …}: grade code → list price, fen
    units         jsonb NOT NULL DEFAULT '{}',     -- grade code → L | kg | kWh ("L" when absent)
    nozzles       jsonb NOT NULL,                  -- [{device, fuelling_point, nozzle, grade, price_fen}]
    held_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, version)
);

CREATE TABLE business.station_price_nozzles (
    station         text NOT NULL,
    version         integer NOT NULL,
    device          text NOT NULL,
    fuelling_point  integer NOT NULL,
    nozzle          integer NOT NULL,
    grade           text NOT NULL,
    price_fen       integer NOT NULL,
    state           text NOT NULL CHECK (state IN ('applied', 'refused', 'pending')),
    detail          text NOT NULL DEFAULT '',
    attempt         integer NOT NULL,
    at              timestamptz NOT NULL,          -- when the edge saw this state
    event_id        text NOT NULL,                 -- the report kept (the newest attempt, then the newest at)
    PRIMARY KEY (station, version, device, fuelling_point, nozzle)
);
