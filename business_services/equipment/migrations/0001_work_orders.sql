-- Maintenance work orders (business_services/equipment): written where they are opened (head office or a
-- station server), never copied. A work order opened from an alarm names it; at most one order per alarm is
-- not done yet, so opening it twice from the console (a double click, a retry) finds the first.
CREATE TABLE business.equipment_work_orders (
    id          bigserial PRIMARY KEY,
    station     text NOT NULL,
    equipment   text NOT NULL,                    -- a device code (disp-01, tank-1, lel-02) or what it is
    fault       text NOT NULL,
    alarm_id    uuid,                             -- the alarm it was opened from, if any
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done')),
    opened_by   text NOT NULL,
    opened_at   timestamptz NOT NULL,
    assignee    text NOT NULL DEFAULT '',         -- who repairs it
    note        text NOT NULL DEFAULT '',         -- the last status change's note
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL,
    done_at     timestamptz,
    CHECK ((status = 'done') = (done_at IS NOT NULL))
);
CREATE UNIQUE INDEX equipment_work_orders_one_per_alarm ON business.equipment_work_orders (alarm_id)
    WHERE alarm_id IS NOT NULL AND status <> 'done';
CREATE INDEX equipment_work_orders_by_station ON business.equipment_work_orders (station, opened_at DESC);
