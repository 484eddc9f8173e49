-- Head office's copy of each station's orders (business_services/station_orders): what the station server
-- reported through order.created / order.changed, one row per order, the highest version's state kept.
-- A change arriving before its creation (a reordered delivery) makes the row; the creation fills the rest.
CREATE TABLE business.station_orders (
    station             text NOT NULL,
    order_no            text NOT NULL,
    kind                text,                   -- NULL until order.created arrives
    fuelling_event_id   text,
    pump                text,
    fuelling_point      integer,
    nozzle              integer,
    grade               integer,
    volume_l            numeric(16, 2),
    price_fen_per_l     integer,
    totalizer_before_l  numeric(16, 2),
    totalizer_after_l   numeric(16, 2),
    amount_fen          bigint,
    item                text,
    reason              text,
    shift_no            text,
    fuelled_at          timestamptz,
    created_at          timestamptz,
    version             integer NOT NULL,
    status              text NOT NULL,
    paid_fen            bigint NOT NULL DEFAULT 0,
    written_off_fen     bigint,
    tags                jsonb NOT NULL DEFAULT '[]',
    note                text NOT NULL DEFAULT '',
    held_reason         text,
    changed_at          timestamptz,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, order_no)
);
CREATE INDEX station_orders_by_time ON business.station_orders (station, created_at DESC, order_no DESC);
CREATE INDEX station_orders_by_shift ON business.station_orders (station, shift_no);
