#!/usr/bin/env python3
"""The console in headless Chromium: sign in as a developer, create an app
(its keys shown once), create a secret key, use it, revoke it, see the API
refuse it, and see a refused operation's error on the page.

Usage: check_in_browser.py ORBIT_URL EMAIL PASSWORD"""

import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from webdriver import Driver  # noqa: E402


def status_with(base, key):
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": "{ viewer { __typename } }"}).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main():
    base, email, password = sys.argv[1:4]
    driver = Driver()
    try:
        driver.go(f"{base}/console")
        driver.type("#email", email)
        driver.type("#password", password)
        driver.click("#log-in")
        driver.wait_for("signing in", "return !document.getElementById('signed-in').hidden")
        driver.wait_for("the first app is listed", "return document.getElementById('apps').textContent.includes('First app')")
        print("browser: signed in as the developer; First app is listed")

        driver.type("#app-name", "Second app")
        driver.click("#create-app")
        created = driver.wait_for(
            "the new app's keys", "const k = document.getElementById('created-keys'); return !k.hidden && k.textContent"
        )
        if "sk_" not in created or "pk_" not in created:
            raise SystemExit(f"browser: the keys were not shown: {created}")
        driver.wait_for("the app opens", "return document.getElementById('app-title').textContent === 'Second app'")
        print("browser: created Second app; its keys were shown once")

        driver.type("#key-name", "CI server")
        driver.click("#create-key")
        shown = driver.wait_for(
            "the new key", "const k = document.getElementById('new-key-value'); return !k.hidden && k.textContent"
        )
        key = shown.rsplit(" ", 1)[-1]
        if not key.startswith("sk_") or status_with(base, key) != 200:
            raise SystemExit(f"browser: the new key does not work: {shown}")
        driver.wait_for("the key is listed", "return document.getElementById('keys').textContent.includes('CI server')")
        driver.script(
            "const row = [...document.querySelectorAll('#keys tr')].find(r => r.textContent.includes('CI server'));"
            " row.querySelector('button').click();"
        )
        driver.wait_for(
            "the key shows revoked",
            "const row = [...document.querySelectorAll('#keys tr')].find(r => r.textContent.includes('CI server'));"
            " return row && row.children[4].textContent !== ''",
        )
        if status_with(base, key) != 401:
            raise SystemExit("browser: the revoked key still works")
        print("browser: made a secret key, used it, revoked it; the API now refuses it")

        driver.click("#create-key")  # no name: the API refuses it, and the page says why
        error = driver.wait_for("the error shows", "return document.getElementById('error').textContent")
        if "BAD_USER_INPUT" not in error:
            raise SystemExit(f"browser: unexpected error text: {error}")
        print(f"browser: a refused operation shows its error: {error}")
        driver.screenshot("console")
    finally:
        driver.close()


if __name__ == "__main__":
    main()
