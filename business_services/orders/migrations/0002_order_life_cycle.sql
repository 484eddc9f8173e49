-- The order life cycle (docs/orders.md): held orders (挂单) and their write-off, make-up orders (补单) waiting for
-- approval, manual sales, tags and notes, a change counter (the id of each change's event) and the history.
ALTER TABLE business.orders DROP CONSTRAINT orders_kind_check;
ALTER TABLE business.orders ADD CONSTRAINT orders_kind_check CHECK (kind IN ('fuelling', 'manual', 'make_up'));
ALTER TABLE business.orders DROP CONSTRAINT orders_status_check;
ALTER TABLE business.orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending_approval', 'payable', 'held', 'paid', 'written_off'));
ALTER TABLE business.orders DROP CONSTRAINT orders_check1;         -- (status = 'paid') = (paid_fen = amount_fen)
ALTER TABLE business.orders
    ADD COLUMN version         integer NOT NULL DEFAULT 0,        -- one up per change: the change's event id
    ADD COLUMN item            text,                              -- a manual sale's goods, e.g. 润滑油
    ADD COLUMN reason          text,                              -- why a make-up or manual order was made
    ADD COLUMN created_by      text,
    ADD COLUMN tags            jsonb NOT NULL DEFAULT '[]',       -- [{"name": "滴滴", "amount_fen": 605}]
    ADD COLUMN note            text NOT NULL DEFAULT '',
    ADD COLUMN held_reason     text CHECK (held_reason IN ('drive_off', 'power_loss', 'abnormal')),
    ADD COLUMN held_note       text,
    ADD COLUMN written_off_fen bigint CHECK (written_off_fen > 0),
    ADD COLUMN approval_id     uuid,                              -- the pending make-up or write-off request
    ADD COLUMN changed_at      timestamptz,
    ADD CONSTRAINT orders_paid_in_full CHECK (status = 'written_off' OR (status = 'paid') = (paid_fen = amount_fen)),
    ADD CONSTRAINT orders_held_why CHECK ((status = 'held') <= (held_reason IS NOT NULL)),
    ADD CONSTRAINT orders_written_off CHECK ((status = 'written_off') = (written_off_fen IS NOT NULL));
CREATE INDEX orders_keyset ON business.orders (station, created_at, order_no);

CREATE TABLE business.order_history (
    order_no  text NOT NULL REFERENCES business.orders (order_no),
    version   integer NOT NULL,
    at        timestamptz NOT NULL,
    action    text NOT NULL,                 -- created, locked …: docs/orders.md
    status    text NOT NULL,
    actor     text NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (order_no, version)
);
