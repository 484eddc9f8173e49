-- Members at head office (business_services/members; docs/members.md). One row per member of a company
-- (company_group: the operating company, the group level of its MQTT topics): its number, personal data
-- (erasable: phone, name, birthday, the masked ID number become NULL), its level, growth and lifecycle.
-- Member numbers: 'M' + 8 digits from one sequence (a rolled-back registration leaves a gap, never a repeat).
CREATE SEQUENCE business.member_numbers;

-- The level table: a member holds the highest level whose threshold its growth of the last 365 days reaches
-- (upgrade at once, downgrade at the yearly review). rank orders the levels; the lowest has growth_min 0.
CREATE TABLE business.member_levels (
    code                text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,31}$'),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 32),
    rank                integer NOT NULL UNIQUE CHECK (rank >= 0),
    growth_min          bigint NOT NULL UNIQUE CHECK (growth_min >= 0),
    discount_pct        integer NOT NULL DEFAULT 0 CHECK (discount_pct BETWEEN 0 AND 100),  -- off fuel, 5 = 5 %
    points_multiplier   numeric(4, 2) NOT NULL DEFAULT 1 CHECK (points_multiplier BETWEEN 1 AND 10),
    birthday_privilege  text NOT NULL DEFAULT '' CHECK (length(birthday_privilege) <= 100),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
INSERT INTO business.member_levels (code, name, rank, growth_min, discount_pct, points_multiplier, birthday_privilege)
VALUES ('normal', '普通会员', 0, 0, 0, 1, ''),
       ('silver', '银卡会员', 1, 1000, 1, 1.2, '生日当月积分双倍'),
       ('gold', '金卡会员', 2, 5000, 2, 1.5, '生日当月积分双倍，赠洗车券一张'),
       ('platinum', '铂金会员', 3, 20000, 3, 2, '生日当月积分三倍，赠洗车券两张');

CREATE TABLE business.members (
    member_no           text PRIMARY KEY CHECK (member_no ~ '^M[0-9]{8,12}$'),
    company_group       text NOT NULL,
    phone               text,                     -- NULL once erased
    name                text,
    gender              text NOT NULL DEFAULT 'unknown' CHECK (gender IN ('male', 'female', 'unknown')),
    birthday            date,
    source              text NOT NULL CHECK (source IN ('pos', 'back_office', 'wechat')),
    station             text,                     -- where the member registered (NULL: head office, WeChat)
    id_number_masked    text,                     -- 1101**********123X: never the whole number
    real_name           text NOT NULL DEFAULT 'none' CHECK (real_name IN ('none', 'checked')),
    qr_token            text NOT NULL UNIQUE,     -- what the member's QR code carries
    level               text NOT NULL REFERENCES business.member_levels (code),
    growth              bigint NOT NULL DEFAULT 0 CHECK (growth >= 0),     -- the lifetime total, shown
    lifecycle           text NOT NULL DEFAULT 'new' CHECK (lifecycle IN ('new', 'active', 'dormant', 'lost')),
    recency_days        integer,                  -- RFM as the lifecycle job last saw it
    frequency_90d       integer NOT NULL DEFAULT 0,
    monetary_90d_fen    bigint NOT NULL DEFAULT 0,
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'erased')),
    registered_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    erased_at           timestamptz,
    CHECK (status = 'erased' OR phone IS NOT NULL),
    UNIQUE (company_group, phone)
);
CREATE INDEX members_by_registration ON business.members (registered_at DESC, member_no DESC);
CREATE INDEX members_by_station ON business.members (station);

-- Growth value: one row per paid member order (+) and per refund (−), once by its key; the sum over the last
-- 365 days decides the level. The same rows are the member's orders for RFM and the rule tags.
CREATE TABLE business.member_growth (
    key           text PRIMARY KEY,               -- order:<station>/<order_no> or refund:<station>/<refund_no>
    member_no     text NOT NULL REFERENCES business.members (member_no),
    station       text NOT NULL,
    reference     text NOT NULL,                  -- the order or refund number
    amount_fen    bigint NOT NULL,                -- paid (+) or refunded (−)
    growth        bigint NOT NULL,
    at            timestamptz NOT NULL
);
CREATE INDEX member_growth_by_member ON business.member_growth (member_no, at DESC);

-- Every level change, with why (upgrade at once, the yearly review, a change of the level table).
CREATE TABLE business.member_level_changes (
    id          bigserial PRIMARY KEY,
    member_no   text NOT NULL REFERENCES business.members (member_no),
    from_level  text NOT NULL,
    to_level    text NOT NULL,
    reason      text NOT NULL CHECK (reason IN ('upgrade', 'review')),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_level_changes_by_member ON business.member_level_changes (member_no, id DESC);

-- Tags: manual ones given by hand, rule ones computed by the tagging job (rule: {"kind", "days", "at_least"}).
CREATE TABLE business.member_tags (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 32),
    kind        text NOT NULL CHECK (kind IN ('manual', 'rule')),
    rule        jsonb,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'rule') = (rule IS NOT NULL))
);
INSERT INTO business.member_tags (name, kind, rule, description)
VALUES ('近30天加油≥4次', 'rule', '{"kind": "orders_in_days", "days": 30, "at_least": 4}', '近 30 天付款的会员订单不少于 4 笔');

CREATE TABLE business.member_tag_links (
    member_no   text NOT NULL REFERENCES business.members (member_no),
    tag_id      bigint NOT NULL REFERENCES business.member_tags (id),
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_no, tag_id)
);
CREATE INDEX member_tag_links_by_tag ON business.member_tag_links (tag_id);
