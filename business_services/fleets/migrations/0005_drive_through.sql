-- 车牌无感支付 (docs/fleets.md "Paying by plate", docs/vision.md "Drive-through payment"): the enterprise lets a
-- vehicle card pay by its recognised plate without the PIN; set by the fleet manager, carried to the stations on
-- the member list (ListedFleetCard.drive_through). Only a vehicle card (one with a plate) may.
ALTER TABLE business.fleet_cards ADD COLUMN drive_through boolean NOT NULL DEFAULT false;
ALTER TABLE business.fleet_cards ADD CONSTRAINT fleet_cards_drive_through_needs_plate
    CHECK (NOT drive_through OR plate IS NOT NULL);
