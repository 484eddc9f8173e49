-- The organisation units (regions, the company: business_services/access's tree) a change named besides its
-- stations; they were expanded to the stations under them in the requester's scope when it was requested, and
-- those stations are in ``stations`` (docs/prices.md "Regions").
ALTER TABLE business.price_changes ADD COLUMN units text[] NOT NULL DEFAULT '{}';
