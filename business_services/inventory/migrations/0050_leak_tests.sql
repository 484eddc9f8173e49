-- Statistical leak detection (SIR, business_services/inventory/leak.py): one verdict per tank and last day
-- covered, written by the daily job (leak_job.py). Numbered 0050 so that the reconciliation's own migrations
-- (0001…) come first in this folder. A re-run of the same day changes nothing (the primary key).
CREATE TABLE business.leak_tests (
    station                  text NOT NULL,
    tank                     integer NOT NULL CHECK (tank > 0),
    last_day                 date NOT NULL,                 -- the last business day the test covers
    first_day                date NOT NULL,
    days                     integer NOT NULL CHECK (days >= 30),
    verdict                  text NOT NULL CHECK (verdict IN ('pass', 'fail', 'inconclusive')),
    leak_rate_l_h            double precision NOT NULL,     -- positive: product lost
    threshold_l_h            double precision NOT NULL,     -- ½ MDLR
    mdlr_l_h                 double precision NOT NULL,     -- minimum detectable leak rate
    target_l_h               double precision NOT NULL,     -- 0.76 L/h = 0.2 gal/h
    standard_error_l_h       double precision NOT NULL,
    loss_per_litre_sold_pct  double precision NOT NULL,     -- meters / chart scale (fitted or calibrated)
    calibrated               boolean NOT NULL,
    throughput_l             double precision NOT NULL,
    computed_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, tank, last_day),
    CHECK (first_day <= last_day)
);
CREATE INDEX leak_tests_latest ON business.leak_tests (station, tank, last_day DESC);
