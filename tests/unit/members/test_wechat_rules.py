"""What WeChat's answers mean for a quick registration (members/model.py): refusals, the phone, the openid's mask."""

from __future__ import annotations

import pytest

from business_services.members.model import (
    Disclosure,
    MemberConflict,
    MemberError,
    WeChatUnavailable,
    mask_openid,
    shown,
    wechat_phone,
    wechat_refusal,
    wechat_token_refusal,
)


@pytest.mark.parametrize(("errcode", "kind", "says"), [
    (40029, MemberError, "微信授权已过期，请重新授权"),
    (40163, MemberConflict, "已使用过"),
    (40226, MemberConflict, "存在风险"),
    (40013, WeChatUnavailable, "配置有误"),
    (40125, WeChatUnavailable, "配置有误"),
    (-1, WeChatUnavailable, "微信繁忙"),
    (45011, WeChatUnavailable, "微信繁忙"),
    (99999, WeChatUnavailable, "99999"),
])
def test_each_refusal_says_who_must_act(errcode: int, kind: type[Exception], says: str) -> None:
    refusal = wechat_refusal(errcode, "errmsg", "login_code")
    assert type(refusal) is kind
    assert says in str(refusal)
    if isinstance(refusal, MemberError):
        assert refusal.field == "login_code"


def test_an_expired_phone_code_names_the_phone_button() -> None:
    refusal = wechat_refusal(40029, "invalid code", "phone_code")
    assert isinstance(refusal, MemberError) and refusal.field == "phone_code" and "手机号授权" in refusal.message


def test_the_phone_from_wechat_is_a_mainland_mobile() -> None:
    assert wechat_phone("86", "13800138000") == "13800138000"
    with pytest.raises(MemberError, match="中国大陆"):
        wechat_phone("852", "61234567")


def test_openids_are_masked_unless_pii_read() -> None:
    openid = "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
    assert mask_openid(openid) == "oGZU****VJJE"
    row = {"wechat_openid": openid, "wechat_unionid": None}
    assert shown(row, Disclosure()) == {"wechat_openid": "oGZU****VJJE", "wechat_unionid": None}
    assert shown(row, Disclosure(pii=True)) == row


def test_no_token_for_the_mini_program_is_head_offices_keys_or_a_busy_wechat() -> None:
    assert "配置有误" in str(wechat_token_refusal(40001, "invalid credential"))
    assert "微信繁忙" in str(wechat_token_refusal(-1, "system error"))
