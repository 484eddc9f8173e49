-- Head office's copy of the price-set version each fuelling order was sold under (order.created's price_set).
ALTER TABLE business.station_orders ADD COLUMN price_set integer;
