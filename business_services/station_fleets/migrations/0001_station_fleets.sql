-- Fleet authorisations asked at this station (docs/fleets.md "At the station"). One row per ask, numbered
-- <station>-<yyyymmdd>-A<serial> before head office is asked (a retry asks with the same number). A reserved row
-- holds its preset until the fuelling's order is paid (captured: the actual amount) or it is released (the
-- fuelling never started, or the cashier cancelled). Offline decisions count this station's reserved and captured
-- rows of the card under the card's row lock on the member list, so two pumps cannot both spend one remainder.
CREATE TABLE business.station_fleet_authorisations (
    auth_no         text PRIMARY KEY,
    station         text NOT NULL,
    card_no         text,                          -- NULL until known (an ask by plate head office refused)
    enterprise      text,
    plate           text,
    device          text NOT NULL,
    fuelling_point  integer NOT NULL,
    nozzle          integer NOT NULL,
    grade           integer NOT NULL,
    fen_per_l       integer NOT NULL CHECK (fen_per_l > 0),
    wanted_fen      bigint CHECK (wanted_fen > 0),
    state           text NOT NULL CHECK (state IN ('asked', 'reserved', 'refused', 'captured', 'released')),
    preset_fen      bigint NOT NULL DEFAULT 0 CHECK (preset_fen >= 0),
    code            text NOT NULL DEFAULT '',
    reason          text NOT NULL DEFAULT '',
    offline         boolean NOT NULL DEFAULT false,   -- decided by the station alone
    payment_no      text UNIQUE,                      -- the payment that captured it
    captured_fen    bigint CHECK (captured_fen > 0),
    captured_offline boolean NOT NULL DEFAULT false,  -- taken here; reported by payment.captured (offline)
    release_told    boolean NOT NULL DEFAULT true,    -- false: head office still holds a released reservation
    asked_at        timestamptz NOT NULL,
    closed_at       timestamptz
);
CREATE INDEX station_fleet_authorisations_by_card ON business.station_fleet_authorisations (card_no, asked_at)
    WHERE state IN ('reserved', 'captured');
