-- 催款短信 (docs/fleets.md "Dunning"): each dunning notice is sent by SMS to the enterprise contact it names,
-- once, by the job fleet_dunning_sms (business_services/fleets/dunning_sms.py): pending → sending → sent, or
-- failed with the reason (no phone, a number the provider refuses, attempts used up); a failure the provider may
-- recover from waits until due_at and is tried again. Notices made before this migration were never meant to be
-- sent: they are marked so, not sent late.
ALTER TABLE business.fleet_dunning_notices
    ADD COLUMN sms_status  text NOT NULL DEFAULT 'pending'
        CHECK (sms_status IN ('pending', 'sending', 'sent', 'failed', 'not_sent')),
    ADD COLUMN sms_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN sms_due_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN sms_error   text NOT NULL DEFAULT '',
    ADD COLUMN sms_id      text NOT NULL DEFAULT '',     -- the provider's BizId
    ADD COLUMN sms_sent_at timestamptz;
UPDATE business.fleet_dunning_notices SET sms_status = 'not_sent', sms_error = '短信发送上线前的通知 (made before SMS sending)';
CREATE INDEX fleet_dunning_notices_sms_due ON business.fleet_dunning_notices (sms_due_at)
    WHERE sms_status IN ('pending', 'sending');
