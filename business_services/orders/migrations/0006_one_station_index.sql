-- orders_keyset (station, created_at, order_no) serves every read orders_by_station (station, created_at DESC)
-- served (a B-tree is read backwards as well as forwards); the second copy only cost each new order and each
-- change of status (a payment: not a HOT update, so every index takes the new row) an index entry more.
DROP INDEX IF EXISTS business.orders_by_station;
