-- The member and the vehicle an order is sold to (order.created / order.changed carry them since issue 18):
-- the member 360° page lists a member's orders, and growth and points are earned by paid member orders.
ALTER TABLE business.station_orders ADD COLUMN member_no text, ADD COLUMN plate text;
CREATE INDEX station_orders_by_member ON business.station_orders (member_no, created_at DESC) WHERE member_no IS NOT NULL;
