-- The member an order is sold to (issue 18): set at the POS (station_members: looked up by phone, card, QR or
-- plate) before the order is paid; it earns the member's points at head office when the order is paid.
ALTER TABLE business.orders ADD COLUMN member_no text CHECK (member_no ~ '^M[0-9]{8,12}$');
ALTER TABLE business.orders ADD COLUMN plate text;
