"""The face gallery over the API (control_api/routes/faces.py, business_services/faces): enrol with the person's
consent (the embedding, not the photo), a retry enrols nothing more, identify finds the person from another photo,
deletion removes everything and the index forgets them, every access audited, bad input a clear 4xx."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from control_api.app import create_app
from tests.integration.cards.support import client, rows, scalar
from tests.support.auth import bearer
from vision.models import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.integration

FACES = DEFAULT_MODEL_DIR.parent / "data" / "vision" / "faces"
PERSON = "M20260001"
CONSENT = {"person": PERSON, "consent_by": "张三", "consent_at": "2026-12-05T08:00:00+08:00",
           "consent_method": "terminal", "consent_text_version": "face-2026.1"}
ALL = ("face:read", "face:enrol", "face:identify", "pii:read")


def photo(name: str) -> dict[str, Any]:
    return {"image": (name, (FACES / name).read_bytes(), "image/jpeg")}


async def test_enrol_identify_delete_each_audited_and_a_retry_enrols_nothing_more(
        database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(database_url)
    who = bearer(app, *ALL, username="li")
    async with client(app) as http:
        first = await http.post("/api/v1/faces/enrolments", data=CONSENT, files=photo("fr_obama__00.jpg"),
                                headers=who | {"Idempotency-Key": "face-enrol-0001"})
        assert first.status_code == 201, first.text
        again = await http.post("/api/v1/faces/enrolments", data=CONSENT, files=photo("fr_obama__00.jpg"),
                                headers=who | {"Idempotency-Key": "face-enrol-0001"})
        assert again.json() == first.json() | {"created": False}
        other = await http.post("/api/v1/faces/enrolments", data=CONSENT | {"person": "M20260002"},
                                files=photo("fr_biden__00.jpg"), headers=who | {"Idempotency-Key": "face-enrol-0002"})
        assert other.status_code == 201, other.text
        stored = await rows(database_url, "SELECT person, photo IS NULL, cardinality(embedding), consent_method, "
                                          "consent_text_version FROM business.face_enrolments ORDER BY id")
        assert stored == [(PERSON, True, 128, "terminal", "face-2026.1"), ("M20260002", True, 128, "terminal",
                                                                           "face-2026.1")]

        seen = await http.post("/api/v1/faces/identify", files=photo("fr_obama__02.jpg"), headers=who)
        assert seen.status_code == 200, seen.text
        assert seen.json()["live"] and seen.json()["match"]["person"] == PERSON

        listed = await http.get(f"/api/v1/faces/people/{PERSON}", headers=bearer(app, "face:read", username="wang"))
        assert [e["consent_by"] for e in listed.json()] == ["张*"]          # masked without pii:read

        gone = await http.request("DELETE", f"/api/v1/faces/people/{PERSON}", data={"reason": "本人撤回同意"},
                                  headers=who)
        assert gone.json() == {"person": PERSON, "enrolments_removed": 1}
        assert await scalar(database_url, "SELECT count(*) FROM business.face_enrolments WHERE person = %s",
                            PERSON) == 0
        after = await http.post("/api/v1/faces/identify", files=photo("fr_obama__02.jpg"), headers=who)
        assert after.json()["match"] is None                               # the index forgot him
    audit = await rows(database_url, "SELECT action, target FROM business.audit_log WHERE action LIKE 'face.%%' "
                                     "ORDER BY seq")
    assert audit == [("face.enrol", f"person:{PERSON}"), ("face.enrol", "person:M20260002"),
                     ("face.identify", f"person:{PERSON}"), ("face.read", f"person:{PERSON}"),
                     ("face.delete", f"person:{PERSON}"), ("face.identify", "person:none")]
    logged = await rows(database_url, "SELECT after::text FROM business.audit_log WHERE action LIKE 'face.%%'")
    assert all("embedding" not in text for (text,) in logged)
    ours = [r.getMessage() for r in caplog.records if r.name != "httpx"]     # httpx: the test client's own log
    assert not [m for m in ours if PERSON in m or "张三" in m or "embedding" in m]   # no face data logged


async def test_bad_requests_get_a_clear_4xx_and_nothing_is_stored(database_url: str) -> None:
    app = create_app(database_url)
    who = bearer(app, *ALL, username="li")
    blank = cv2.imencode(".jpg", np.full((240, 320, 3), 128, np.uint8))[1].tobytes()
    async with client(app) as http:
        cases = [
            (CONSENT | {"consent_method": "shouted"}, photo("fr_obama__00.jpg"), "consent_method"),
            (CONSENT | {"person": "obama"}, photo("fr_obama__00.jpg"), "person"),
            (CONSENT, {"image": ("x.jpg", b"not a jpeg", "image/jpeg")}, "bad_image"),
            (CONSENT, {"image": ("x.jpg", blank, "image/jpeg")}, "no_face"),
        ]
        for n, (data, files, named) in enumerate(cases):
            answer = await http.post("/api/v1/faces/enrolments", data=data, files=files,
                                     headers=who | {"Idempotency-Key": f"face-bad-{n:04d}"})
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert named in answer.json()["detail"]
        no_key = await http.post("/api/v1/faces/enrolments", data=CONSENT, files=photo("fr_obama__00.jpg"),
                                 headers=who)
        assert no_key.status_code == 422
        assert (await http.post("/api/v1/faces/identify", files=photo("fr_obama__00.jpg"))).status_code == 401
        reader = bearer(app, "face:read", username="wang")
        assert (await http.post("/api/v1/faces/identify", files=photo("fr_obama__00.jpg"),
                                headers=reader)).status_code == 403
        assert (await http.request("DELETE", f"/api/v1/faces/people/{PERSON}", data={"reason": "x"},
                                   headers=reader)).status_code == 403
    assert await scalar(database_url, "SELECT count(*) FROM business.face_enrolments") == 0


async def test_the_list_of_enrolments_pages_filters_masks_and_is_audited(database_url: str) -> None:
    app = create_app(database_url)
    who = bearer(app, *ALL, username="li")
    people = [("M20260011", "fr_obama__00.jpg", "paper"), ("M20260012", "fr_biden__00.jpg", "app"),
              ("M20260013", "fr_alex_lacamoire__00.jpg", "paper")]
    async with client(app) as http:
        for n, (person, name, method) in enumerate(people):
            answer = await http.post("/api/v1/faces/enrolments", files=photo(name),
                                     data=CONSENT | {"person": person, "consent_method": method,
                                                     "consent_by": "王小明"},
                                     headers=who | {"Idempotency-Key": f"face-list-{n:04d}"})
            assert answer.status_code == 201, answer.text
        reader = bearer(app, "face:read", username="wang")
        first = (await http.get("/api/v1/faces/enrolments", params={"limit": 2}, headers=reader)).json()
        assert first["total"] == 3 and [e["person"] for e in first["items"]] == ["M20260013", "M20260012"]
        assert {e["consent_by"] for e in first["items"]} == {"王**"}            # masked without pii:read
        rest = (await http.get("/api/v1/faces/enrolments", params={"limit": 2, "cursor": first["next_cursor"]},
                               headers=reader)).json()
        assert [e["person"] for e in rest["items"]] == ["M20260011"] and rest["next_cursor"] is None
        signed = (await http.get("/api/v1/faces/enrolments", params={"consent_method": "paper"}, headers=who)).json()
        assert [(e["person"], e["consent_by"]) for e in signed["items"]] == [("M20260013", "王小明"),
                                                                             ("M20260011", "王小明")]
        one = (await http.get("/api/v1/faces/enrolments", params={"person": "M20260012"}, headers=who)).json()
        assert one["total"] == 1 and set(one["items"][0]) >= {"consent_text_version", "consent_at", "enrolled_by"}
        assert "embedding" not in one["items"][0]
        bad = await http.get("/api/v1/faces/enrolments", params={"consent_method": "shouted"}, headers=who)
        assert bad.status_code == 422
        assert (await http.get("/api/v1/faces/enrolments")).status_code == 401
        assert (await http.get("/api/v1/faces/enrolments",
                               headers=bearer(app, "member:read", username="zhao"))).status_code == 403
        texts = (await http.get("/api/v1/faces/consent-texts", headers=reader)).json()
        assert texts[0]["version"] == "face-2026.1" and "撤回同意" in texts[0]["text"]
    audit = await rows(database_url, "SELECT target, after->>'enrolments' FROM business.audit_log "
                                     "WHERE action = 'face.read' ORDER BY seq")
    assert audit == [("enrolments", "2"), ("enrolments", "1"), ("enrolments", "2"), ("person:M20260012", "1")]


async def test_an_enrolment_needs_a_live_face_and_a_known_consent_text(database_url: str) -> None:
    app = create_app(database_url)
    who = bearer(app, *ALL, username="li")
    live = FACES.parent / "liveness"
    async with client(app) as http:
        spoof = await http.post("/api/v1/faces/enrolments", data=CONSENT, headers=who | {"Idempotency-Key": "face-s-1"},
                                files={"image": ("f.jpg", (live / "live_fake__01.jpg").read_bytes(), "image/jpeg")})
        assert spoof.status_code == 422 and "活体" in spoof.json()["detail"] and "not_live" in spoof.json()["detail"]
        unknown = await http.post("/api/v1/faces/enrolments", data=CONSENT | {"consent_text_version": "v0"},
                                  files=photo("fr_obama__00.jpg"), headers=who | {"Idempotency-Key": "face-s-2"})
        assert unknown.status_code == 422 and "face-2026.1" in unknown.json()["detail"]
    assert await scalar(database_url, "SELECT count(*) FROM business.face_enrolments") == 0


async def test_at_a_terminal_a_live_match_and_a_spoof_each_go_out_as_an_event(database_url: str) -> None:
    app = create_app(database_url)
    who = bearer(app, *ALL, username="li")
    live = FACES.parent / "liveness"
    async with client(app) as http:
        enrolled = await http.post("/api/v1/faces/enrolments", data=CONSENT,
                                   files={"image": ("r.jpg", (live / "live_real__00.jpg").read_bytes(), "image/jpeg")},
                                   headers=who | {"Idempotency-Key": "face-enrol-live"})
        assert enrolled.status_code == 201, enrolled.text
        at = {"station": "demo-01", "terminal": "pos-1"}
        real = await http.post("/api/v1/faces/identify", data=at, headers=who,
                               files={"image": ("r.jpg", (live / "live_real__00.jpg").read_bytes(), "image/jpeg")})
        assert real.json()["match"]["person"] == PERSON
        fake = await http.post("/api/v1/faces/identify", data=at, headers=who,
                               files={"image": ("f.jpg", (live / "live_fake__01.jpg").read_bytes(), "image/jpeg")})
        assert not fake.json()["live"] and fake.json()["match"] is None
        elsewhere = bearer(app, *ALL, username="zhao", stations=frozenset({"demo-02"}))
        refused = await http.post("/api/v1/faces/identify", data=at, headers=elsewhere,
                                  files={"image": ("r.jpg", (live / "live_real__00.jpg").read_bytes(), "image/jpeg")})
        assert refused.status_code == 403
    events = await rows(database_url, "SELECT topic, payload->>'type', payload->'data'->>'member_no' "
                                      "FROM business.outbox WHERE payload->>'type' LIKE 'face.%%' ORDER BY seq")
    assert [(e, m) for _, e, m in events] == [("face.recognized", PERSON),
                                              ("face.spoof_detected", None)]
    assert all("demo-01" in t for t, _, _ in events)


async def test_a_model_file_with_the_wrong_hash_is_a_clear_503(database_url: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "face").mkdir()
    for f in (DEFAULT_MODEL_DIR / "face").iterdir():
        (tmp_path / "face" / f.name).write_bytes(f.read_bytes())
    (tmp_path / "face" / "face_detect_yunet_2026may.onnx").write_bytes(b"tampered")
    monkeypatch.setenv("FORECOURT_VISION_MODELS", str(tmp_path))
    app = create_app(database_url)
    async with client(app) as http:
        answer = await http.post("/api/v1/faces/identify", files=photo("fr_obama__00.jpg"),
                                 headers=bearer(app, *ALL, username="li"))
    assert answer.status_code == 503
    assert "人脸模型不可用" in answer.json()["detail"] and "SHA-256" in answer.json()["detail"]
