-- Fleet accounts at head office (business_services/fleets; docs/fleets.md). An enterprise's money is in the
-- ledger (fleet:<code>:prepaid, fleet:<code>:gift, receivable:fleet:<code>; a card's own balance card:<card_no>);
-- these tables hold what the enterprise and its cards are, the limits, and the documents that move the money.
CREATE TABLE business.fleet_groups (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE business.fleet_enterprises (
    id                   bigint GENERATED ALWAYS AS IDENTITY UNIQUE,   -- business.vehicles.fleet_id
    code                 text PRIMARY KEY CHECK (code ~ '^E[0-9]{6}$'),
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    customer_code        text NOT NULL UNIQUE CHECK (length(customer_code) BETWEEN 1 AND 32),
    tax_no               text NOT NULL DEFAULT '' CHECK (tax_no = '' OR tax_no ~ '^[0-9A-Z]{15,20}$'),
    maintaining_station  text NOT NULL,             -- whose users manage it (scope)
    responsible_stations text[] NOT NULL DEFAULT '{}',
    status               text NOT NULL DEFAULT 'normal' CHECK (status IN ('normal', 'frozen', 'closed')),
    review               text NOT NULL DEFAULT 'pending' CHECK (review IN ('pending', 'approved', 'rejected')),
    contacts             jsonb NOT NULL DEFAULT '[]',  -- [{name, phone, role}]
    price_agreement      text,                      -- a fleet agreement of business_services/prices (its code)
    group_id             bigint REFERENCES business.fleet_groups (id),
    settlement           text NOT NULL DEFAULT 'prepaid' CHECK (settlement IN ('prepaid', 'credit')),
    credit_limit_fen     bigint NOT NULL DEFAULT 0 CHECK (credit_limit_fen >= 0),
    credit_days          integer NOT NULL DEFAULT 30 CHECK (credit_days BETWEEN 0 AND 365),   -- payment terms
    statement_day        smallint NOT NULL DEFAULT 1 CHECK (statement_day BETWEEN 1 AND 28),  -- monthly cut-off
    warn_pct             smallint NOT NULL DEFAULT 80 CHECK (warn_pct BETWEEN 1 AND 100),     -- over-limit warning
    next_card_serial     bigint NOT NULL DEFAULT 1,
    created_by           text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fleet_enterprises_by_station ON business.fleet_enterprises (maintaining_station);

-- every change of an enterprise, reviewed or not (the full edit history); a pending one waits for review
CREATE TABLE business.fleet_enterprise_changes (
    id            bigserial PRIMARY KEY,
    enterprise    text NOT NULL REFERENCES business.fleet_enterprises (code),
    kind          text NOT NULL,                    -- create, edit, freeze, unfreeze, close, credit …
    before        jsonb,
    after         jsonb NOT NULL,
    state         text NOT NULL CHECK (state IN ('pending', 'applied', 'rejected')),
    changed_by    text NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT now(),
    reviewed_by   text,
    reviewed_at   timestamptz,
    note          text NOT NULL DEFAULT ''
);
CREATE INDEX fleet_enterprise_changes_by_enterprise ON business.fleet_enterprise_changes (enterprise, id DESC);

-- a card per vehicle or driver; its own balance is the ledger account card:<card_no>
CREATE TABLE business.fleet_cards (
    card_no            text PRIMARY KEY CHECK (card_no ~ '^[0-9]{16}([0-9]{3})?$'),
    id                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,   -- names a card on screens that mask its number
    enterprise         text NOT NULL REFERENCES business.fleet_enterprises (code),
    holder             text NOT NULL CHECK (holder IN ('vehicle', 'driver')),
    plate              text,                        -- the vehicle's (holder vehicle), or NULL
    driver             text NOT NULL DEFAULT '' CHECK (length(driver) <= 32),
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'lost', 'closed')),
    pays_from          text NOT NULL CHECK (pays_from IN ('card', 'credit')),   -- its balance, or the credit line
    pin_hash           text,                        -- argon2 (pwdlib); NULL: no PIN asked
    grades             integer[] NOT NULL DEFAULT '{}',   -- empty: any grade
    stations           text[] NOT NULL DEFAULT '{}',      -- empty: any station of the chain
    hours_from         smallint CHECK (hours_from BETWEEN 0 AND 23),   -- local time; both NULL: any hour
    hours_to           smallint CHECK (hours_to BETWEEN 1 AND 24),
    per_fill_fen       bigint CHECK (per_fill_fen > 0),
    litres_per_fill    integer CHECK (litres_per_fill > 0),
    daily_fen          bigint CHECK (daily_fen > 0),
    weekly_fen         bigint CHECK (weekly_fen > 0),
    monthly_fen        bigint CHECK (monthly_fen > 0),
    fills_per_day      integer CHECK (fills_per_day > 0),
    fills_per_week     integer CHECK (fills_per_week > 0),
    fills_per_month    integer CHECK (fills_per_month > 0),
    offline_limit_fen  bigint NOT NULL DEFAULT 0 CHECK (offline_limit_fen >= 0),   -- 0: never offline
    issued_by          text NOT NULL,
    issued_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((hours_from IS NULL) = (hours_to IS NULL))
);
CREATE INDEX fleet_cards_by_enterprise ON business.fleet_cards (enterprise, card_no);
CREATE UNIQUE INDEX fleet_cards_by_plate ON business.fleet_cards (plate) WHERE plate IS NOT NULL AND status <> 'closed';

-- "may this card fuel, and how much?": one row per ask, reserved until the fuelling ends, then captured for the
-- actual amount or released; auth_no is the station's (<station>-<yyyymmdd>-A<serial>): a retried ask is one row
CREATE TABLE business.fleet_authorisations (
    auth_no        text PRIMARY KEY,
    card_no        text NOT NULL REFERENCES business.fleet_cards (card_no),
    enterprise     text NOT NULL REFERENCES business.fleet_enterprises (code),
    station        text NOT NULL,
    nozzle         text NOT NULL,
    grade          integer NOT NULL,
    plate          text,
    state          text NOT NULL CHECK (state IN ('reserved', 'refused', 'captured', 'released')),
    reserved_fen   bigint NOT NULL CHECK (reserved_fen >= 0),
    refusal        text,
    offline        boolean NOT NULL DEFAULT false,   -- made by the station alone, reconciled when it came back
    asked_at       timestamptz NOT NULL,
    closed_at      timestamptz,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX fleet_authorisations_open ON business.fleet_authorisations (card_no) WHERE state = 'reserved';

-- fleet sales settled at head office (one per station payment), and their refunds: what statements are made of
CREATE TABLE business.fleet_payments (
    station        text NOT NULL,
    payment_no     text NOT NULL,
    auth_no        text REFERENCES business.fleet_authorisations (auth_no),
    enterprise     text NOT NULL REFERENCES business.fleet_enterprises (code),
    card_no        text NOT NULL REFERENCES business.fleet_cards (card_no),
    pays_from      text NOT NULL CHECK (pays_from IN ('card', 'credit')),
    order_nos      text[] NOT NULL,
    plate          text,
    grade          integer,
    litres_ml      bigint NOT NULL DEFAULT 0 CHECK (litres_ml >= 0),
    amount_fen     bigint NOT NULL CHECK (amount_fen > 0),
    offline        boolean NOT NULL DEFAULT false,
    paid_at        timestamptz NOT NULL,
    statement_no   text,                             -- the statement that bills it (credit sales)
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,   -- the order head office recorded them in (feeds)
    PRIMARY KEY (station, payment_no)
);
CREATE INDEX fleet_payments_by_enterprise ON business.fleet_payments (enterprise, paid_at);
CREATE INDEX fleet_payments_by_card ON business.fleet_payments (card_no, paid_at);

CREATE TABLE business.fleet_refunds (
    station        text NOT NULL,
    refund_no      text NOT NULL,
    payment_no     text NOT NULL,
    enterprise     text NOT NULL REFERENCES business.fleet_enterprises (code),
    card_no        text NOT NULL REFERENCES business.fleet_cards (card_no),
    amount_fen     bigint NOT NULL CHECK (amount_fen > 0),
    refunded_at    timestamptz NOT NULL,
    statement_no   text,
    PRIMARY KEY (station, refund_no),
    FOREIGN KEY (station, payment_no) REFERENCES business.fleet_payments (station, payment_no)
);
