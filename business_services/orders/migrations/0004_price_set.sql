-- The price-set version a fuelling was sold under (issue 16): fuelling.completed's price_set, stamped by the edge
-- node with the version in force on the nozzle when the fuelling started; NULL for manual and make-up orders and
-- for fuellings from an edge that held no price set.
ALTER TABLE business.orders ADD COLUMN price_set integer CHECK (price_set >= 1);
