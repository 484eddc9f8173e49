-- The yearly level review, once per year (China time): the job runs daily and reviews when this year's review
-- is not recorded yet, so a review missed because no worker ran on 1 January happens at the next run.
CREATE TABLE business.member_level_reviews (
    year        integer PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    changed     integer NOT NULL
);
