"""The id-token list: answers per OCPP version, replaced as a whole, kept in its file across restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocol_adapters.ocpp.auth import AuthListError, AuthorizationCache, TokenStatus
from protocol_adapters.ocpp.codec import OcppVersion

V16, V201 = OcppVersion.V16, OcppVersion.V201


@pytest.mark.parametrize(("tag", "version", "answer"), [
    ("RFID0001", V16, "Accepted"),
    ("rfid0001", V201, "Accepted"),     # id tags are case-insensitive
    ("STOLEN01", V16, "Blocked"),
    ("STOLEN01", V201, "Blocked"),
    ("OLDCARD1", V16, "Expired"),
    ("NOBODY99", V16, "Invalid"),       # unknown: 1.6 says Invalid
    ("NOBODY99", V201, "Unknown"),      # 2.0.1 says Unknown
])
def test_answers(tag: str, version: OcppVersion, answer: str) -> None:
    cache = AuthorizationCache({"RFID0001": "Accepted", "STOLEN01": TokenStatus.BLOCKED, "OldCard1": "Expired"})
    assert cache.answer(tag, version) == answer


def test_replace_swaps_the_whole_list() -> None:
    cache = AuthorizationCache({"RFID0001": "Accepted"})
    cache.replace({"RFID0002": "Accepted", "RFID0003": "Blocked"})
    assert len(cache) == 2 and "RFID0001" not in cache and "rfid0002" in cache
    assert cache.status("RFID0001") is None and cache.status("RFID0003") is TokenStatus.BLOCKED


@pytest.mark.parametrize(("tokens", "message"), [
    ({"RFID0002": "Accepted", "RFID0003": "Stolen"}, "'RFID0003': status 'Stolen'"),
    ({"": "Accepted"}, "1 to 36 characters"),
    ({"X" * 37: "Accepted"}, "1 to 36 characters"),
])
def test_a_bad_list_changes_nothing(tokens: dict[str, str], message: str, tmp_path: Path) -> None:
    path = tmp_path / "tags.json"
    cache = AuthorizationCache({"RFID0001": "Accepted"}, path=path)
    with pytest.raises(AuthListError, match=message):
        cache.replace(tokens)
    assert cache.answer("RFID0001", V16) == "Accepted" and len(cache) == 1
    assert not path.exists()


def test_the_list_survives_a_restart_in_its_file(tmp_path: Path) -> None:
    path = tmp_path / "tags.json"
    first = AuthorizationCache.load(path, {"RFID0001": "Accepted"})   # no file yet: the station file's list
    assert first.answer("RFID0001", V16) == "Accepted"
    first.replace({"MEMBER77": "Accepted", "RFID0001": "Blocked"})    # pushed by head office
    assert json.loads(path.read_text(encoding="utf-8")) == {"member77": "Accepted", "rfid0001": "Blocked"}
    assert not (tmp_path / "tags.json.tmp").exists()
    restarted = AuthorizationCache.load(path, {"RFID0001": "Accepted"})   # the file wins over the station file
    assert restarted.answer("RFID0001", V16) == "Blocked" and restarted.answer("MEMBER77", V201) == "Accepted"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read"),
    ('["RFID0001"]', "expected a JSON object"),
    ('{"RFID0001": "Maybe"}', "status 'Maybe'"),
])
def test_a_broken_file_fails_at_start_naming_it(content: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "tags.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AuthListError, match=message) as caught:
        AuthorizationCache.load(path)
    assert str(path) in str(caught.value)
