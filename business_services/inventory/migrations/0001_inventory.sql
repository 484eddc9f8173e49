-- Wet-stock reconciliation (business_services/inventory), computed by the station server (docs/inventory.md).
-- Volumes in L: *_l_20 at 20 °C (GB/T 1885), *_observed at the product's temperature.

-- Tolerances per grade and season (GB 11085's 春冬季 / 夏秋季); defaults below, changed through the API.
CREATE TABLE business.inventory_tolerances (
    grade               text NOT NULL,
    season              text NOT NULL CHECK (season IN ('summer', 'winter')),
    station_loss_pct    numeric(5, 3) NOT NULL CHECK (station_loss_pct > 0),
    station_loss_min_l  numeric(8, 2) NOT NULL CHECK (station_loss_min_l >= 0),
    road_loss_pct       numeric(5, 3) NOT NULL CHECK (road_loss_pct > 0),
    PRIMARY KEY (grade, season)
);
INSERT INTO business.inventory_tolerances VALUES
    ('92', 'summer', 0.30, 20, 0.20), ('92', 'winter', 0.25, 20, 0.15),
    ('95', 'summer', 0.30, 20, 0.20), ('95', 'winter', 0.25, 20, 0.15),
    ('98', 'summer', 0.30, 20, 0.20), ('98', 'winter', 0.25, 20, 0.15),
    ('0',  'summer', 0.20, 20, 0.12), ('0',  'winter', 0.15, 20, 0.10);

-- 卸车记录: one row per note number and station; a retried POST changes nothing.
CREATE TABLE business.inventory_delivery_notes (
    station                 text NOT NULL,
    note_no                 text NOT NULL,
    tank                    int NOT NULL CHECK (tank BETWEEN 1 AND 99),
    supplier                text NOT NULL,
    carrier                 text NOT NULL,
    vehicle                 text NOT NULL,
    arrived_at              timestamptz NOT NULL,
    invoiced_l_20           numeric(10, 2) NOT NULL CHECK (invoiced_l_20 > 0),
    invoiced_l_observed     numeric(10, 2),
    observed_temperature_c  numeric(5, 2),
    density_20              numeric(6, 1),
    recorded_by             text NOT NULL,
    recorded_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, note_no)
);

-- Manual dips (人工量油), one per tank and time.
CREATE TABLE business.inventory_dips (
    station        text NOT NULL,
    tank           int NOT NULL CHECK (tank BETWEEN 1 AND 99),
    dipped_at      timestamptz NOT NULL,
    level_mm       numeric(7, 1) NOT NULL,
    water_mm       numeric(7, 1) NOT NULL,
    volume_l       numeric(10, 2) NOT NULL,
    temperature_c  numeric(5, 2) NOT NULL,
    volume_l_20    numeric(10, 2) NOT NULL,
    recorded_by    text NOT NULL,
    PRIMARY KEY (station, tank, dipped_at)
);

-- Transfers between tanks (倒罐) and pump tests poured back (回罐), each under the staff's reference.
CREATE TABLE business.inventory_movements (
    station     text NOT NULL,
    reference   text NOT NULL,
    tank        int NOT NULL CHECK (tank BETWEEN 1 AND 99),
    kind        text NOT NULL CHECK (kind IN ('transfer_in', 'transfer_out', 'pump_test')),
    litres      numeric(10, 2) NOT NULL CHECK (litres > 0),
    at          timestamptz NOT NULL,
    recorded_by text NOT NULL,
    PRIMARY KEY (station, reference)
);

-- Deliveries found in the gauge's data; one per tank and start (a recomputation finds the same one).
CREATE TABLE business.inventory_deliveries (
    station      text NOT NULL,
    tank         int NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL,
    before_l_20  numeric(10, 2) NOT NULL,
    after_l_20   numeric(10, 2) NOT NULL,
    sold_l_20    numeric(10, 2) NOT NULL,     -- sold from the tank while it filled
    received_l_20 numeric(10, 2) NOT NULL,    -- after − before + sold
    note_no      text,                        -- the matched 卸车记录
    road_loss_l  numeric(10, 2),              -- invoiced − received
    road_loss_pct numeric(7, 3),
    road_limit_l numeric(10, 2),
    exceeded     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (station, tank, started_at)
);
CREATE UNIQUE INDEX inventory_deliveries_one_note ON business.inventory_deliveries (station, note_no)
    WHERE note_no IS NOT NULL;

-- One reconciliation per tank group, period and period key; recomputing replaces it (same key).
CREATE TABLE business.inventory_reconciliations (
    station      text NOT NULL,
    tank         int NOT NULL,                -- the group's lowest tank number
    period       text NOT NULL CHECK (period IN ('shift', 'day')),
    period_key   text NOT NULL,               -- YYYY-MM-DD or the shift number
    tanks        int[] NOT NULL,
    grade        text NOT NULL,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    opening_l    numeric(10, 2),
    deliveries_l numeric(10, 2) NOT NULL,
    sales_l      numeric(10, 2) NOT NULL,
    book_l       numeric(10, 2),
    closing_l    numeric(10, 2),
    variance_l   numeric(10, 2),
    loss_pct     numeric(8, 3),
    limit_l      numeric(10, 2) NOT NULL,
    status       text NOT NULL CHECK (status IN ('ok', 'exceeded', 'incomplete')),
    detail       jsonb NOT NULL,              -- movements, ARTS figures, notes
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, period, period_key, tank)
);
CREATE INDEX inventory_reconciliations_by_time ON business.inventory_reconciliations (station, starts_at DESC);

-- Alarm conditions as the alarm engine's external seam receives them (docs/inventory.md "Alarms"): the
-- latest state of each (station, rule, source), written in the reconciliation's transaction.
CREATE TABLE business.inventory_conditions (
    station     text NOT NULL,
    rule        text NOT NULL,
    source      text NOT NULL,
    active      boolean NOT NULL,
    value       double precision NOT NULL,
    "limit"     double precision NOT NULL,
    message     text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, rule, source)
);
