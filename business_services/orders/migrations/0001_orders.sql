-- Orders (business_services/orders), owned by the station server: one per fuelling.completed (unique on its
-- event id), and manual sales. paid_fen is what was captured for it less what was refunded; the checks make
-- an over-payment or an over-refund impossible whatever the code above does.
CREATE TABLE business.orders (
    order_no            text PRIMARY KEY,                    -- business_services/numbers.py, letter O
    station             text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('fuelling', 'manual')),
    fuelling_event_id   text UNIQUE,                         -- the idempotency chain starts here
    pump                text,
    fuelling_point      integer,
    nozzle              integer,
    grade               integer,
    volume_l            numeric(16, 2),
    price_fen_per_l     integer,
    totalizer_before_l  numeric(16, 2),
    totalizer_after_l   numeric(16, 2),
    amount_fen          bigint NOT NULL CHECK (amount_fen >= 0),
    paid_fen            bigint NOT NULL DEFAULT 0 CHECK (paid_fen >= 0 AND paid_fen <= amount_fen),
    status              text NOT NULL DEFAULT 'payable' CHECK (status IN ('payable', 'paid')),
    shift_no            text,                                -- the shift in which it was sold (NULL: none open)
    locked_by           text,                                -- the POS terminal that has it in hand
    locked_until        timestamptz,
    fuelled_at          timestamptz,
    created_at          timestamptz NOT NULL,
    paid_at             timestamptz,
    CHECK ((kind = 'fuelling') = (fuelling_event_id IS NOT NULL)),
    CHECK ((status = 'paid') = (paid_fen = amount_fen))
);
CREATE INDEX orders_payable ON business.orders (station, created_at) WHERE status = 'payable';
CREATE INDEX orders_by_shift ON business.orders (shift_no);
CREATE INDEX orders_by_station ON business.orders (station, created_at DESC);
