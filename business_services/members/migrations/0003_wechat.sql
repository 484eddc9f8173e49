-- WeChat quick registration (business_services/members/wechat.py; docs/members.md "WeChat"): the member's openid in
-- the company's mini program (unique: one member per WeChat user) and its unionid (the open platform's id of the
-- same person, when the mini program is bound to one). Personal data: shown masked unless pii:read, emptied on
-- erasure (an erased member holds none).
ALTER TABLE business.members
    ADD COLUMN wechat_openid   text CHECK (wechat_openid ~ '^[A-Za-z0-9_-]{8,64}$'),
    ADD COLUMN wechat_unionid  text CHECK (wechat_unionid ~ '^[A-Za-z0-9_-]{8,64}$'),
    ADD CONSTRAINT members_erased_hold_no_wechat CHECK (status <> 'erased' OR (wechat_openid IS NULL
                                                                               AND wechat_unionid IS NULL));
CREATE UNIQUE INDEX members_by_wechat_openid ON business.members (company_group, wechat_openid)
    WHERE wechat_openid IS NOT NULL;
