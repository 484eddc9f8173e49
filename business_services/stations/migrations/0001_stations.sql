-- Station master data, owned by head office (business_services/stations). A station server holds a copy of
-- its own station's rows, written only from the list head office sends (business_services/stations/copy.py).
CREATE TABLE business.stations (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    company_group   text NOT NULL,                       -- the operating company: MQTT topics' group level
    region          text NOT NULL DEFAULT '',
    address         text NOT NULL DEFAULT '',
    latitude        double precision,
    longitude       double precision,
    contacts        jsonb NOT NULL DEFAULT '[]',         -- [{"name": …, "phone": …}]
    opening_hours   text NOT NULL DEFAULT '',
    photos          jsonb NOT NULL DEFAULT '[]',
    responsible     text NOT NULL DEFAULT '',
    timezone        text NOT NULL DEFAULT 'Asia/Shanghai',
    version         bigint NOT NULL DEFAULT 1,           -- of the master-data list; +1 with every change
    edge_version    bigint,                              -- the version the station reported holding
    edge_version_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stations_region ON business.stations (region, code);

CREATE TABLE business.stations_devices (
    station   text NOT NULL REFERENCES business.stations (code),
    code      text NOT NULL,
    kind      text NOT NULL,                             -- dispenser, tank-gauge, charger, camera …
    position  int NOT NULL,                              -- order in the station file
    settings  jsonb NOT NULL,                            -- the edge's device entry without its code
    PRIMARY KEY (station, code)
);

CREATE TABLE business.stations_tanks (
    station     text NOT NULL REFERENCES business.stations (code),
    number      int NOT NULL CHECK (number BETWEEN 1 AND 99),
    grade       text NOT NULL,
    capacity_l  numeric(9, 1) NOT NULL CHECK (capacity_l > 0),
    PRIMARY KEY (station, number)
);

-- one row per nozzle; (device, fuelling_point, number) unique within a station: a fuelling point number
-- appears once per dispenser, a nozzle number once per fuelling point
CREATE TABLE business.stations_nozzles (
    station         text NOT NULL,
    device          text NOT NULL,
    fuelling_point  int NOT NULL CHECK (fuelling_point BETWEEN 1 AND 4),
    number          int NOT NULL CHECK (number BETWEEN 1 AND 4),
    grade           text,
    PRIMARY KEY (station, device, fuelling_point, number),
    FOREIGN KEY (station, device) REFERENCES business.stations_devices (station, code)
);

CREATE TABLE business.stations_shift_definitions (
    station  text NOT NULL REFERENCES business.stations (code),
    code     text NOT NULL,
    name     text NOT NULL,
    starts   time NOT NULL,
    ends     time NOT NULL,
    PRIMARY KEY (station, code)
);

CREATE TABLE business.stations_schedule (
    station  text NOT NULL,
    day      date NOT NULL,
    shift    text NOT NULL,
    staff    jsonb NOT NULL DEFAULT '[]',                -- usernames
    PRIMARY KEY (station, day, shift),
    FOREIGN KEY (station, shift) REFERENCES business.stations_shift_definitions (station, code)
);
