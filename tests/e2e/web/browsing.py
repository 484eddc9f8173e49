"""A small page driver over one Chromium for the back-office tests: find by CSS, wait, read texts, log in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

# a re-render may replace an element being read; a fading mask or an opening menu may be in the way
RETRIED = (StaleElementReferenceException, ElementClickInterceptedException, ElementNotInteractableException)


class Page:
    """Small helpers over one browser: find by CSS, wait for a condition, read texts."""

    def __init__(self, browser: webdriver.Chrome, url: str, screenshots: Path) -> None:
        self.browser, self.url, self.screenshots = browser, url, screenshots

    def open(self, path: str) -> None:
        self.browser.get(self.url + path)

    def until(self, condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        try:
            return WebDriverWait(self.browser, timeout, ignored_exceptions=RETRIED).until(
                lambda _b: condition(), message=what)
        except TimeoutException:
            self.browser.save_screenshot(str(self.screenshots / "failed.png"))
            raise AssertionError(f"{what}: not so after {timeout} s at {self.browser.current_url} "
                                 f"(screenshot {self.screenshots / 'failed.png'})") from None

    def all(self, css: str) -> list[WebElement]:
        return [e for e in self.browser.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]

    def one(self, css: str) -> WebElement:
        return self.until(lambda: (self.all(css) or [None])[0], f"{css} shown")  # type: ignore[no-any-return]

    def click(self, css: str, text: str | None = None) -> None:
        """Click the first shown element (with this text), retrying while something is in the way."""
        def clicked() -> bool:
            element = next((e for e in self.all(css) if text is None or e.text.strip() == text), None)
            if element is not None:
                element.click()
            return element is not None
        self.until(clicked, f"{css} {text or ''} clicked")

    def texts(self, css: str) -> list[str]:
        return [e.text.strip() for e in self.all(css)]

    def texts_become(self, css: str, expected: list[str]) -> None:
        """Wait until the shown elements' texts are exactly ``expected`` (a page may still be rendering)."""
        self.until(lambda: self.texts(css) == expected, f"{css} shows {expected!r} (it shows {self.texts(css)})")

    def text_becomes(self, css: str, expected: str) -> None:
        self.until(lambda: expected in self.texts(css), f"{css} shows {expected!r} (it shows {self.texts(css)})")

    def first_cells(self) -> list[str]:
        return self.texts(".list-page .el-table__body tr.el-table__row td:first-child .cell")

    def keyboard_login(self, username: str, password: str) -> None:
        """User name, Tab, password, Enter: no mouse."""
        self.until(lambda: self.browser.switch_to.active_element.get_attribute("name") == "username",
                   "the user name box has the focus")
        self.browser.switch_to.active_element.send_keys(username, Keys.TAB)
        focused = self.browser.switch_to.active_element
        assert focused.get_attribute("name") == "password"
        focused.send_keys(password, Keys.ENTER)

    def shot(self, name: str) -> None:
        self.browser.save_screenshot(str(self.screenshots / f"{name}.png"))

    def assert_all_assets_local(self) -> None:
        loaded = self.browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded, "the page loaded no resources"
        assert all(url.startswith(self.url + "/") for url in loaded), loaded
