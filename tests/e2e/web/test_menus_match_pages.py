"""control_api/menus.py and the back office's pages/index.js name the same pages with the same permissions:
a menu entry without a page (or a page no menu opens) fails here, not in front of a user."""

from __future__ import annotations

import re
from pathlib import Path

from control_api.menus import MENUS

INDEX = Path(__file__).resolve().parents[3] / "control_api" / "web" / "admin" / "pages" / "index.js"


def test_every_menu_entry_has_its_page_and_every_page_its_entry() -> None:
    pages = dict(re.findall(r"path: '([^']+)', permission: '([^']+)'", INDEX.read_text()))
    entries = {c["path"]: c["permission"] for g in MENUS for c in g["children"]}
    assert pages, "no pages read from pages/index.js"
    assert pages == entries
    assert len(entries) == sum(len(g["children"]) for g in MENUS)    # one entry per page
