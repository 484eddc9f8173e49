-- Prices, owned by head office (business_services/prices, docs/prices.md): each company's limits, the changes
-- people request (with their lines), the versioned price set of each station (per grade and per nozzle), what
-- each nozzle reported for each version (price.applied), and the special-price rules.

CREATE TABLE business.price_policy (
    company_group text PRIMARY KEY,
    step_fen      int NOT NULL CHECK (step_fen > 0),              -- most one change may move a price, in fen
    step_pct      numeric(5, 2) NOT NULL CHECK (step_pct > 0),    -- … and in per cent of the old price
    day_fen       int NOT NULL CHECK (day_fen > 0),               -- most a grade may move in a day at a station
    updated_by    text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE business.price_change_seq;

CREATE TABLE business.price_changes (
    change_no     text PRIMARY KEY,                               -- PC-20261204-00017
    company_group text NOT NULL,
    state         text NOT NULL CHECK (state IN ('awaiting_approval', 'scheduled', 'sent', 'rejected', 'cancelled')),
    stations      text[] NOT NULL,
    effective_at  timestamptz,                                    -- NULL: at once
    reason        text NOT NULL,
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    approval_id   uuid,
    approval_expires_at timestamptz,                              -- unanswered by then: the change is rejected
    approved_by   text,
    decided_at    timestamptz,
    sent_at       timestamptz,
    cancelled_by  text,
    cancelled_at  timestamptz
);
CREATE INDEX price_changes_requested ON business.price_changes (requested_at DESC, change_no);
CREATE INDEX price_changes_due ON business.price_changes (effective_at) WHERE state = 'scheduled';

CREATE TABLE business.price_change_lines (
    change_no      text NOT NULL REFERENCES business.price_changes (change_no),
    line           int NOT NULL,
    station        text NOT NULL,
    grade          text NOT NULL,
    device         text,                                          -- a nozzle's own price (单枪调价); NULL: the grade
    fuelling_point int,
    nozzle         int,
    old_price_fen  int,                                           -- NULL: the station had no price for it yet
    new_price_fen  int NOT NULL CHECK (new_price_fen BETWEEN 1 AND 10000),
    PRIMARY KEY (change_no, line)
);
CREATE INDEX price_change_lines_station ON business.price_change_lines (station, grade);

CREATE TABLE business.price_sets (
    station       text NOT NULL,
    version       int NOT NULL CHECK (version >= 1),
    company_group text NOT NULL,
    change_no     text,                                           -- NULL: the first set of a station (seeded)
    effective_at  timestamptz NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    in_force_at   timestamptz,                                    -- every nozzle reported applied
    reason        text NOT NULL DEFAULT '',
    requested_by  text NOT NULL DEFAULT '',
    approved_by   text,
    PRIMARY KEY (station, version)
);
CREATE UNIQUE INDEX price_sets_change ON business.price_sets (change_no, station) WHERE change_no IS NOT NULL;

CREATE TABLE business.price_set_grades (
    station   text NOT NULL,
    version   int NOT NULL,
    grade     text NOT NULL,
    unit      text NOT NULL CHECK (unit IN ('L', 'kg', 'kWh')),
    price_fen int NOT NULL CHECK (price_fen BETWEEN 1 AND 10000),
    since     timestamptz NOT NULL,                               -- when this grade last changed its price
    PRIMARY KEY (station, version, grade),
    FOREIGN KEY (station, version) REFERENCES business.price_sets (station, version)
);

CREATE TABLE business.price_set_nozzles (
    station        text NOT NULL,
    version        int NOT NULL,
    device         text NOT NULL,
    fuelling_point int NOT NULL,
    nozzle         int NOT NULL,
    grade          text NOT NULL,
    price_fen      int NOT NULL CHECK (price_fen BETWEEN 1 AND 10000),
    own_price      boolean NOT NULL DEFAULT false,                -- a nozzle's own price, not its grade's
    state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('applied', 'refused', 'pending')),
    detail         text NOT NULL DEFAULT '',
    attempt        int NOT NULL DEFAULT 0,                        -- of the newest report (0: none yet)
    at             timestamptz,                                   -- of the newest report
    PRIMARY KEY (station, version, device, fuelling_point, nozzle),
    FOREIGN KEY (station, version) REFERENCES business.price_sets (station, version)
);

CREATE TABLE business.price_reports (                            -- every price.applied, once by its event id
    event_id       text PRIMARY KEY,
    station        text NOT NULL,
    version        int NOT NULL,
    device         text NOT NULL,
    fuelling_point int NOT NULL,
    nozzle         int NOT NULL,
    grade          text NOT NULL,
    price_fen      int NOT NULL,
    state          text NOT NULL,
    detail         text NOT NULL,
    attempt        int NOT NULL,
    at             timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX price_reports_set ON business.price_reports (station, version, received_at);

CREATE TABLE business.price_rules (
    id            bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    company_group text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('member_level', 'fleet_agreement', 'time_of_use', 'tier')),
    stations      text[],                                         -- NULL: every station
    grade         text,                                           -- NULL: every grade
    params        jsonb NOT NULL,
    valid_from    timestamptz NOT NULL,
    valid_to      timestamptz,                                    -- exclusive; NULL: open
    note          text NOT NULL DEFAULT '',
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    ended_by      text,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
