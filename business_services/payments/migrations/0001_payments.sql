-- Payments (business_services/payments), owned by the station server. A payment is one tender of one method
-- for one or several orders (its allocations); a pending payment's allocations reserve what it takes of each
-- order, so two payments together can never exceed an order (handlers.py checks it with the orders locked).
-- refunded_fen is what went back (or is on its way back: a refund reserves it while pending, i.e. once any
-- approval is granted); the checks make an over-refund impossible whatever the code above does.
CREATE TABLE business.payments (
    payment_no    text PRIMARY KEY,                    -- business_services/numbers.py, letter P
    station       text NOT NULL,
    shift_no      text NOT NULL,                       -- the shift open when it was taken
    terminal      text NOT NULL,
    cashier       text NOT NULL,
    method        text NOT NULL,
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed', 'cancelled')),
    provider_ref  text,
    qr_code_url   text,
    message       text NOT NULL DEFAULT '',            -- the provider's word on a failure, for the cashier
    reference     text,                                -- the bank terminal's voucher number, as keyed in
    note          text,                                -- what an "other" tender was (e.g. 滴滴代金券)
    refunded_fen  bigint NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0 AND refunded_fen <= amount_fen),
    created_at    timestamptz NOT NULL,
    settled_at    timestamptz,
    CHECK ((state = 'pending') = (settled_at IS NULL)),
    CHECK (state = 'succeeded' OR refunded_fen = 0)
);
CREATE INDEX payments_by_station ON business.payments (station, created_at DESC);
CREATE INDEX payments_by_shift ON business.payments (shift_no);
CREATE INDEX payments_pending ON business.payments (station) WHERE state = 'pending';

CREATE TABLE business.payment_allocations (
    payment_no    text NOT NULL REFERENCES business.payments ON DELETE CASCADE,
    order_no      text NOT NULL,
    position      integer NOT NULL,                    -- the order's place in the request (refunds go back in it)
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    refunded_fen  bigint NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0 AND refunded_fen <= amount_fen),
    PRIMARY KEY (payment_no, order_no)
);
CREATE INDEX payment_allocations_by_order ON business.payment_allocations (order_no);

CREATE TABLE business.payment_refunds (
    refund_no     text PRIMARY KEY,                    -- business_services/numbers.py, letter R
    payment_no    text NOT NULL REFERENCES business.payments,
    station       text NOT NULL,
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    state         text NOT NULL CHECK (state IN ('awaiting_approval', 'pending', 'succeeded', 'failed',
                                                 'rejected')),
    reason        text NOT NULL,
    allocations   jsonb NOT NULL DEFAULT '[]',         -- [[order_no, fen], …] once reserved (pending)
    approval_id   uuid,
    requested_by  text NOT NULL,
    executed_by   text,
    provider_ref  text,
    message       text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    settled_at    timestamptz
);
CREATE INDEX payment_refunds_by_payment ON business.payment_refunds (payment_no);
CREATE INDEX payment_refunds_open ON business.payment_refunds (station) WHERE state IN ('awaiting_approval', 'pending');

-- Receipts printed, per order: a reprint is marked 重印 COPY and counted.
CREATE TABLE business.receipt_prints (
    order_no      text PRIMARY KEY,
    printed       integer NOT NULL CHECK (printed > 0),
    last_at       timestamptz NOT NULL
);
