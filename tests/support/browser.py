"""Headless Chromium for the browser tests: Debian's chromium and chromedriver, driven by selenium.

Nothing is downloaded: selenium is pointed at /usr/bin/chromedriver, which starts /usr/bin/chromium
with a fresh profile and no background networking.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from support.servers import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = REPO / "test-artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


class Chromium:
    """One headless Chromium window, its profile removed on :meth:`quit`."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="vetmwl-chromium-"))
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_argument(f"--window-size={width},{height}")
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)

    def phone(self, width: int = 390, height: int = 844) -> None:
        """Emulate a phone's viewport (headless windows cannot be narrower than about 500 pixels)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
        )

    def screenshot(self, name: str, max_height: int = 6000) -> Path:
        """The whole page (not only the viewport) as test-artifacts/``name``."""
        ARTIFACTS.mkdir(exist_ok=True)
        width = self.driver.execute_script("return window.innerWidth")
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(height, max_height), "scale": 1},
            },
        )
        path = ARTIFACTS / name
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
