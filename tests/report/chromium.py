"""Debian's headless Chromium driven through Debian's chromium-driver with Selenium.

Selenium speaks WebDriver to `/usr/bin/chromedriver` (same Debian release as the browser, so versions always
match and nothing is downloaded), and gives the browser console log and the DevTools network events through
`goog:loggingPrefs`, which is all this test needs from the DevTools protocol.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,2000", "--hide-scrollbars"]
LOCAL_SCHEMES = ("data:", "blob:")


def browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        raise AssertionError("headless Chromium is required: apt-get install -y chromium chromium-driver "
                             "(.ci/run installs them when root)")
    return chromium, driver


@dataclass
class Page:
    driver: webdriver.Chrome
    url: str
    console: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def goto(self, path: Path) -> None:
        """Open another file in the same browser, with fresh logs."""
        self.collect()
        self.console, self.requests = [], []
        self.url = path.resolve().as_uri()
        self.driver.get(self.url)

    def collect(self) -> None:
        """Drain the browser's console and network logs into `console` / `requests`."""
        self.console += self.driver.get_log("browser")
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") in ("Network.requestWillBeSent", "Network.webSocketCreated"):
                params = message["params"]
                self.requests.append(params.get("request", {}).get("url") or params.get("url", ""))

    def errors(self) -> list[str]:
        self.collect()
        return [e["message"] for e in self.console if e.get("level") == "SEVERE"]

    def foreign_requests(self) -> list[str]:
        """Every request but the page itself (and in-memory data:/blob: URLs, which fetch nothing)."""
        self.collect()
        return [u for u in self.requests if u.split("#")[0] != self.url and not u.startswith(LOCAL_SCHEMES)]


@contextmanager
def open_page(path: Path) -> Iterator[Page]:
    chromium, driver_path = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="clue-chromium-")
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        url = path.resolve().as_uri()
        driver.get("about:blank")
        driver.get_log("performance")  # the browser's own start page is not the report's doing
        driver.get_log("browser")
        driver.get(url)
        yield Page(driver, url)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
