"""人脸库 in a real Chromium against the real head-office API and the real face models: the administrator (the only
demo role holding face:read and face:enrol) finds a member by phone with the keyboard, reads the whole consent text,
is told in Chinese what is wrong with a file that is no photo (before it is sent) and with a photo of a photo (the
server's liveness check), enrols a real photo with a double click (one enrolment), sees it in the person's table
and in 全部登记, and deletes all of the person's face data by keyboard after a confirmation naming what goes. The
marketing user (members, but no face permission) has no 人脸库 entry and is refused at the typed address."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from vision.models import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.e2e

DATA = DEFAULT_MODEL_DIR.parent / "data" / "vision"
ROWS = ".list-page .el-table__body tr.el-table__row"
PHONE = "13812345678"


def _admin(site: RealSite) -> dict[str, str]:
    token = httpx.post(f"{site.url}/api/v1/auth/token",
                       data={"username": "admin", "password": site.logins["admin"].password}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _register(site: RealSite) -> str:
    answer = httpx.post(f"{site.url}/api/v1/members", json={"phone": PHONE, "name": "张三", "source": "back_office"},
                        headers=_admin(site) | {"Idempotency-Key": "faces-page-member-1"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["member_no"])


def _rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return [tuple(r) for r in conn.execute(sql)]   # type: ignore[call-overload]


def test_the_administrator_enrols_once_sees_the_consent_and_deletes_everything(
        browser: webdriver.Chrome, real_site: RealSite, screenshots: Path, tmp_path: Path) -> None:
    member_no = _register(real_site)
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "admin")
    page.click(".modules .el-menu-item", "会员管理")
    page.click(".side .el-menu-item", "人脸库")
    page.until(lambda: browser.current_url.endswith("/admin/members/faces"), "on the face gallery page")

    finder = page.one(".faces .finder input[name=member]")
    finder.click()
    finder.send_keys(PHONE, Keys.ENTER)                                   # by phone, through the member lookup
    page.text_becomes(".faces .person .member-no", member_no)
    page.text_becomes(".faces .person .member-name", "张三")
    page.text_becomes(".faces .person .count", "该会员尚未登记人脸")

    page.click(".faces .person .enrol")
    dialog = ".face-enrol"
    page.until(lambda: "撤回同意" in page.one(f"{dialog} .consent-text").text, "the whole consent text shown")
    assert "face-2026.1" in page.one(f"{dialog} .consent-text").text
    page.one(f"{dialog} input[name=consent_by]").send_keys("张三")
    page.click(f"{dialog} .method-paper")                                  # 线下签字

    not_a_photo = tmp_path / "consent.txt"
    not_a_photo.write_text("not a photo", encoding="utf-8")
    photo = browser.find_element(By.CSS_SELECTOR, f"{dialog} input[name=image]")   # seen as its 选择照片 label
    photo.send_keys(str(not_a_photo))
    page.text_becomes(f"{dialog} .el-form-item__error", "只支持 JPEG 或 PNG 照片，请重新选择 (JPEG or PNG only)")

    photo.send_keys(str(DATA / "liveness" / "live_fake__01.jpg"))         # a photo of a photo
    page.click(f"{dialog} .save")
    page.until(lambda: "未通过活体检测" in page.one(f"{dialog} .el-alert__title").text
               and "(not_live)" in page.one(f"{dialog} .el-alert__title").text, "the server's liveness refusal")
    assert _rows(real_site.database_url, "SELECT count(*) FROM business.face_enrolments") == [(0,)]
    page.shot("faces-enrol-refused")

    photo.send_keys(str(DATA / "faces" / "fr_obama__00.jpg"))
    page.until(lambda: "fr_obama__00.jpg" in page.one(f"{dialog} .photo-name").text, "the photo chosen")
    ActionChains(browser).double_click(page.one(f"{dialog} .save")).perform()    # a double click enrols once
    page.until(lambda: not page.all(dialog), "the dialog closed after enrolling")
    page.text_becomes(".faces .person .count", "已登记 1 张人脸")
    page.until(lambda: "张三" in page.one(".faces .enrolments .el-table__body").text
               and "线下签字" in page.one(".faces .enrolments .el-table__body").text, "the enrolment and its consent")
    assert _rows(real_site.database_url, "SELECT person, consent_by, consent_method, consent_text_version, "
                                         "photo IS NULL FROM business.face_enrolments") == \
        [(member_no, "张三", "paper", "face-2026.1", True)]
    page.shot("faces-person")

    page.click(".faces .el-tabs__item", "全部登记")
    page.text_becomes(".faces .list-page .pager .total", "共 1 条")
    page.until(lambda: member_no in page.one(ROWS).text and "线下签字" in page.one(ROWS).text, "listed")
    page.shot("faces-list")
    page.click(f"{ROWS} .open-person", "查看会员")
    page.text_becomes(".faces .person .member-no", member_no)

    page.click(".faces .person .remove")
    warning = page.one(".face-delete .what").text
    assert member_no in warning and "1 条人脸登记" in warning and "同意记录" in warning
    reason = page.one(".face-delete input[name=reason]")
    reason.click()
    reason.send_keys("本人撤回同意", Keys.ENTER)                           # not confirmed yet: nothing sent
    page.text_becomes(".face-delete .el-form-item__error", "请先勾选确认 (confirm first)")
    reason.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.SPACE)                 # the confirmation, by keyboard
    browser.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    page.until(lambda: not page.all(".face-delete"), "the dialog closed after deleting")
    page.text_becomes(".faces .person .count", "该会员尚未登记人脸")
    assert _rows(real_site.database_url, "SELECT count(*) FROM business.face_enrolments") == [(0,)]
    audit = _rows(real_site.database_url, "SELECT action, after->>'reason' FROM business.audit_log "
                                          "WHERE action IN ('face.enrol', 'face.delete') ORDER BY seq")
    assert audit == [("face.enrol", None), ("face.delete", "本人撤回同意")]


def test_the_face_data_of_a_number_that_is_no_member_is_shown_and_can_be_deleted(
        browser: webdriver.Chrome, real_site: RealSite, screenshots: Path) -> None:
    gone = "M99999999"                                  # e.g. a member erased since: the face data must not linger
    enrolled = httpx.post(f"{real_site.url}/api/v1/faces/enrolments", timeout=60,
                          headers=_admin(real_site) | {"Idempotency-Key": "faces-page-gone-1"},
                          data={"person": gone, "consent_by": "李四", "consent_at": "2026-12-01T08:00:00+08:00",
                                "consent_method": "app", "consent_text_version": "face-2026.1"},
                          files={"image": ("b.jpg", (DATA / "faces" / "fr_biden__00.jpg").read_bytes(), "image/jpeg")})
    assert enrolled.status_code == 201, enrolled.text
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "admin")
    page.open(f"/admin/members/faces?no={gone}")
    page.text_becomes(".faces .person .missing", "会员不存在或已注销，仍留有人脸数据")
    page.text_becomes(".faces .person .count", "已登记 1 张人脸")
    assert not page.all(".faces .person .enrol")         # nobody is enrolled who is not a member
    page.click(".faces .person .remove")
    page.one(".face-delete input[name=reason]").send_keys("会员已注销")
    page.click(".face-delete .confirm")
    page.click(".face-delete .confirm-remove")
    page.until(lambda: not page.all(".face-delete"), "the dialog closed after deleting")
    page.text_becomes(".faces .el-alert__title", "未找到该会员，请核对会员号或手机号 (no member matches)")
    assert _rows(real_site.database_url, "SELECT count(*) FROM business.face_enrolments") == [(0,)]


def test_without_a_face_permission_there_is_no_face_gallery(browser: webdriver.Chrome, real_site: RealSite,
                                                              screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "marketing")
    page.click(".modules .el-menu-item", "会员管理")
    page.until(lambda: "会员列表" in page.texts(".side .el-menu-item"), "the member menu shown")
    assert "人脸库" not in page.texts(".side .el-menu-item")
    page.open("/admin/members/faces")
    page.until(lambda: "无权访问此页面" in browser.page_source, "the typed-in address refused")
