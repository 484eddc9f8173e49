-- 免密支付 (WeChat Pay 委托代扣, docs/online-payments.md "Payment agreements"), owned by head office: each member's
-- agreement with the provider. out_contract_code is ours (the provider's key of the contract: the member number and
-- a serial, so signing again after an end is a new contract); contract_id is the provider's, known once signed.
-- At most one agreement of a member is being signed or active. A deduction by agreement is an online payment of
-- method 'agreement' (the same table, the same callbacks, the same refunds as WeChat Pay's).
ALTER TABLE business.online_payments DROP CONSTRAINT online_payments_method_check;
ALTER TABLE business.online_payments ADD CONSTRAINT online_payments_method_check
    CHECK (method IN ('wechat', 'alipay', 'agreement'));
-- whose agreement a deduction was taken by (a dispute names the member; NULL for the other methods)
ALTER TABLE business.online_payments ADD COLUMN member_no text;
ALTER TABLE business.online_payments ADD CONSTRAINT online_payments_deduction_names_member
    CHECK (method <> 'agreement' OR member_no IS NOT NULL);

CREATE TABLE business.payment_agreements (
    out_contract_code text PRIMARY KEY CHECK (out_contract_code ~ '^M[0-9]{8,12}A[0-9]{1,6}$'),
    member_no       text NOT NULL CHECK (member_no ~ '^M[0-9]{8,12}$'),
    provider        text NOT NULL DEFAULT 'wechatpay' CHECK (provider IN ('wechatpay')),
    plan_id         integer NOT NULL,
    state           text NOT NULL DEFAULT 'signing' CHECK (state IN ('signing', 'active', 'ended')),
    contract_id     text UNIQUE,
    sign_url        text,
    started_by      text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    signed_at       timestamptz,
    ended_at        timestamptz,
    end_reason      text NOT NULL DEFAULT '',
    CHECK (state <> 'active' OR (contract_id IS NOT NULL AND signed_at IS NOT NULL)),
    CHECK ((state = 'ended') = (ended_at IS NOT NULL))
);
CREATE UNIQUE INDEX payment_agreements_one_open ON business.payment_agreements (member_no)
    WHERE state IN ('signing', 'active');
