"""`forecourt audit verify` without a usable database says what to do and exits 2 (not 0, not a traceback)."""

from __future__ import annotations

import pytest

from forecourt.cli import main
from forecourt.local import free_port


def test_without_a_database_it_says_which_to_name(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FORECOURT_DATABASE_URL", raising=False)
    assert main(["audit", "verify"]) == 2
    assert "--database-url" in capsys.readouterr().err


def test_an_unreachable_database_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"
    assert main(["audit", "verify", "--database-url", url]) == 2
    assert "无法连接数据库" in capsys.readouterr().err


def test_a_checkpoint_that_is_not_a_number_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "verify", "--from", "zero"])
    assert exit_.value.code == 2 and "--from" in capsys.readouterr().err
