-- Points, owned by head office (business_services/points, docs/points.md). The balance is the ledger's account
-- points:<member_no>; these tables say where the points came from (lots, for expiry), what each order earned
-- (for refunds and 积分归属), what a member owes (points debt), the earning rules, and the points mall.

CREATE TABLE business.points_settings (
    id               int PRIMARY KEY CHECK (id = 1),                  -- one row: the company's settings
    expiry_years     int NOT NULL CHECK (expiry_years BETWEEN 0 AND 10),
    points_per_yuan  int NOT NULL CHECK (points_per_yuan BETWEEN 1 AND 10000),
    assign_days      int NOT NULL CHECK (assign_days BETWEEN 0 AND 365),
    updated_by       text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE business.points_rules (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('base', 'level', 'day', 'campaign')),
    basis            text CHECK (basis IN ('amount', 'volume')),
    rate             numeric(12, 4),
    grades           text[],                                          -- NULL: every grade
    level            text,
    multiplier       numeric(6, 2),
    day_of_month     int,
    weekday          int,
    stations         text[],                                          -- NULL: every station
    bonus            int,
    effective_from   date NOT NULL,
    effective_to     date,                                            -- the last day in effect (China time)
    note             text NOT NULL DEFAULT '',
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    changed_at       timestamptz NOT NULL DEFAULT now()
);

-- each award (a sale, a grant, points received from another member) is a lot; spending draws lots oldest
-- expiry first; the daily job expires what is left of a lot past expires_at (once: ledger key per lot)
CREATE TABLE business.points_lots (
    id               bigserial PRIMARY KEY,
    member_no        text NOT NULL,
    points           int NOT NULL CHECK (points > 0),
    remaining        int NOT NULL CHECK (remaining >= 0 AND remaining <= points),
    source           text NOT NULL,                                   -- awarded, adjusted, transferred, assigned
    reference        text NOT NULL,                                   -- the ledger key of the entry that made it
    station          text,
    earned_at        timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    expired_points   int NOT NULL DEFAULT 0
);
CREATE INDEX points_lots_open ON business.points_lots (member_no, expires_at, id) WHERE remaining > 0;
CREATE INDEX points_lots_due ON business.points_lots (expires_at) WHERE remaining > 0;
CREATE INDEX points_lots_by_member ON business.points_lots (member_no, id DESC);

-- what an order earned and who holds it now (积分归属 moves it); refunds take back from the holder
CREATE TABLE business.points_order_awards (
    station          text NOT NULL,
    order_no         text NOT NULL,
    member_no        text NOT NULL,
    amount_fen       bigint NOT NULL,
    earned           int NOT NULL CHECK (earned >= 0),
    reversed         int NOT NULL DEFAULT 0 CHECK (reversed >= 0 AND reversed <= earned),
    lot_id           bigint REFERENCES business.points_lots (id),
    sold_at          timestamptz NOT NULL,
    awarded_at       timestamptz NOT NULL DEFAULT now(),
    assigned_from    text,                                            -- who held them before 积分归属
    assigned_at      timestamptz,                                     -- 积分归属 (once per order)
    PRIMARY KEY (station, order_no)
);

-- an order.changed (paid, with a member) that arrived before its order.created: awarded when the order is known
CREATE TABLE business.points_pending_orders (
    station          text NOT NULL,
    order_no         text NOT NULL,
    member_no        text NOT NULL,
    paid_at          timestamptz NOT NULL,
    PRIMARY KEY (station, order_no)
);

CREATE TABLE business.points_refunds (
    station          text NOT NULL,
    refund_no        text NOT NULL,
    member_no        text NOT NULL,
    wanted           int NOT NULL,
    taken            int NOT NULL,
    owed             int NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, refund_no, member_no)
);

-- a refund of an order still waiting for its order.created (points_pending_orders): taken back at the award
CREATE TABLE business.points_early_refunds (
    station          text NOT NULL,
    order_no         text NOT NULL,
    refund_no        text NOT NULL,
    amount_fen       bigint NOT NULL,
    refunded_at      timestamptz NOT NULL,
    PRIMARY KEY (station, order_no, refund_no)
);

CREATE TABLE business.points_debts (
    member_no        text PRIMARY KEY,
    owed             int NOT NULL CHECK (owed >= 0),
    changed_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE business.points_debt_changes (
    id               bigserial PRIMARY KEY,
    member_no        text NOT NULL,
    change           int NOT NULL CHECK (change <> 0),                -- > 0 owed more, < 0 paid back
    reason           text NOT NULL,
    reference        text NOT NULL,
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX points_debt_changes_by_member ON business.points_debt_changes (member_no, id DESC);

CREATE TABLE business.points_mall_items (
    sku              text PRIMARY KEY,
    name             text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('goods', 'coupon', 'fuel')),
    points           int NOT NULL CHECK (points > 0),
    stock            int NOT NULL CHECK (stock >= 0),
    value_fen        bigint CHECK (value_fen >= 0),                   -- a coupon's or fuel's worth, if any
    active           boolean NOT NULL DEFAULT true,
    note             text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    changed_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE business.points_redemptions (
    redemption_no    text PRIMARY KEY,
    member_no        text NOT NULL,
    sku              text NOT NULL REFERENCES business.points_mall_items (sku),
    quantity         int NOT NULL CHECK (quantity > 0),
    points           int NOT NULL CHECK (points > 0),
    station          text,
    redeemed_by      text NOT NULL,
    redeemed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX points_redemptions_by_time ON business.points_redemptions (redeemed_at DESC, redemption_no DESC);

CREATE TABLE business.points_transfers (
    transfer_no      text PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('gift', 'assign')),
    from_member      text NOT NULL,
    to_member        text NOT NULL,
    points           int NOT NULL CHECK (points > 0),
    reference        text NOT NULL DEFAULT '',                        -- assign: station/order_no
    by_user          text NOT NULL,
    at               timestamptz NOT NULL DEFAULT now()
);
