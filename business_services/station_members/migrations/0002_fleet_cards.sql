-- Fleet cards travel on the member list too (telemetry/contracts/members.py::ListedFleetCard): a station decides
-- a fleet card's preset alone from them while head office is unreachable (docs/fleets.md).
ALTER TABLE business.station_member_list DROP CONSTRAINT station_member_list_kind_check;
ALTER TABLE business.station_member_list ADD CONSTRAINT station_member_list_kind_check
    CHECK (kind IN ('member', 'card', 'fleet_card', 'blocked_plate'));
