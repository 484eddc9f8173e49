-- A make-up order whose approval was refused or withdrawn ends as 'rejected' (never payable, kept as a record).
ALTER TABLE business.orders DROP CONSTRAINT orders_status_check;
ALTER TABLE business.orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending_approval', 'payable', 'held', 'paid', 'written_off', 'rejected'));
