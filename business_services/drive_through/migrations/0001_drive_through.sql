-- Drive-through payment (docs/vision.md "Drive-through payment"). One row per plate recognised at a fuelling
-- position and bound to a member who opted in: attached until that position's fuelling makes its order (due),
-- then paid by the member's chosen method or left to the cashier; undone by the cashier; expired when the
-- position went idle without fuel or after the attach window. Keyed by the vehicle.recognized event id, so a
-- recognition delivered twice is one row; one order has at most one row; one position one open attachment.
CREATE TABLE business.drive_through_attachments (
    recognition_id  text PRIMARY KEY,
    station         text NOT NULL,
    fuelling_point  integer NOT NULL,
    plate           text NOT NULL,
    member_no       text NOT NULL,
    method          text NOT NULL CHECK (method IN ('stored_value', 'fleet_credit', 'agreement')),
    card_no         text,
    state           text NOT NULL CHECK (state IN ('attached', 'due', 'paid', 'cashier', 'undone', 'expired')),
    order_no        text UNIQUE,
    payment_no      text,
    reason          text NOT NULL DEFAULT '',
    attached_at     timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    closed_at       timestamptz
);
CREATE UNIQUE INDEX drive_through_one_open_per_position ON business.drive_through_attachments (station, fuelling_point)
    WHERE state = 'attached';
CREATE INDEX drive_through_due ON business.drive_through_attachments (station) WHERE state = 'due';
