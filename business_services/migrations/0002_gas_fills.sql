-- CNG and LNG fills, in kilograms as the Coriolis meter measured them, once each.
CREATE TABLE business.gas_fills (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id            text NOT NULL UNIQUE,
    station             text NOT NULL,
    skid                text NOT NULL,                 -- device code of the gas skid
    product             text NOT NULL CHECK (product IN ('CNG', 'LNG')),
    dispenser           smallint NOT NULL,
    transaction_no      bigint NOT NULL,
    mass_kg             numeric(10, 2) NOT NULL CHECK (mass_kg >= 0),
    amount_fen          bigint NOT NULL CHECK (amount_fen >= 0),
    price_fen_per_kg    integer NOT NULL,
    totalizer_after_kg  numeric(16, 2) NOT NULL,
    stop_reason         text NOT NULL,
    ended_at            timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station, skid, product, dispenser, transaction_no, totalizer_after_kg)
);
