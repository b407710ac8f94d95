#!/usr/bin/env python3
"""Approves a device sign-in on Orbit's /device page in headless Chromium,
as a person would: log in, check the prefilled code, press Approve.

Usage: approve_in_browser.py URL EMAIL PASSWORD
(URL is the verification_uri_complete `orbit login` printed.)
Drives chromedriver over the W3C WebDriver protocol (examples/browser)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from webdriver import Driver  # noqa: E402


def main():
    url, email, password = sys.argv[1:4]
    driver = Driver()
    try:
        driver.go(url)
        code = driver.script("return document.getElementById('user-code').value")
        print(f"browser: the page prefilled the code {code}")
        driver.type("#email", email)
        driver.type("#password", password)
        driver.click("#log-in")
        driver.wait_for("logging in", "return !document.getElementById('code-form').hidden")
        print("browser: " + driver.script("return document.getElementById('signed-in').textContent"))
        driver.click("#approve")
        message = driver.wait_for(
            "approving",
            "const m = document.getElementById('message'); return m.className === 'done' && m.textContent",
        )
        print(f"browser: {message}")
    finally:
        driver.close()


if __name__ == "__main__":
    main()
