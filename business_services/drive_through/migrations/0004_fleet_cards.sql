-- 车牌无感支付 by fleet vehicle card (docs/vision.md "Drive-through payment", docs/fleets.md "Paying by plate"): a
-- plate that is no member's but a listed fleet vehicle card's that allows it attaches the card (member_no NULL,
-- card_no the fleet card's); its order is paid against a fleet authorisation made for the fuelling's amount,
-- fleet_auth_no, written as soon as it is made so that a round after a crash captures that one, not a second.
ALTER TABLE business.drive_through_attachments ALTER COLUMN member_no DROP NOT NULL;
ALTER TABLE business.drive_through_attachments ADD COLUMN fleet_auth_no text;
ALTER TABLE business.drive_through_attachments ADD CONSTRAINT drive_through_member_or_fleet_card
    CHECK (member_no IS NOT NULL OR (method = 'fleet_credit' AND card_no IS NOT NULL));
