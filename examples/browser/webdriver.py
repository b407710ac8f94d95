"""A W3C WebDriver client over chromedriver and headless Chromium, with the
standard library only: the browser checks of the examples drive pages with
it (`sys.path` gets this folder, then `from webdriver import Driver`).
Needs chromium and chromium-driver and nothing else."""

import base64
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Driver:
    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            ["chromedriver", f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                self.call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
            },
        }
        session = self.call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.session = f"/session/{session['sessionId']}"

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["value"]

    def go(self, url):
        self.call("POST", f"{self.session}/url", {"url": url})

    def find(self, css):
        found = self.call("POST", f"{self.session}/element", {"using": "css selector", "value": css})
        return found[ELEMENT]

    def type(self, css, text):
        self.call("POST", f"{self.session}/element/{self.find(css)}/value", {"text": text})

    def click(self, css):
        self.call("POST", f"{self.session}/element/{self.find(css)}/click", {})

    def script(self, source):
        return self.call("POST", f"{self.session}/execute/sync", {"script": source, "args": []})

    def wait_for(self, what, source, seconds=30):
        # Generous: on a loaded 2-core machine a step has taken over 10 s
        # (the web chat's participants list, once in CI); a wait only ends
        # early when the page gets there.
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                value = self.script(source)
            except urllib.error.HTTPError:
                # The script threw (an element not there yet, while the page
                # is drawn again): not yet.
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise SystemExit(f"browser: {what} did not happen; page says: {self.script('return document.body.innerText')}")

    def screenshot(self, name):
        """Saves the window as docs/images/<name>.png when SCREENSHOTS is
        set (how the docs' pictures are made: `SCREENSHOTS=1 run.sh`)."""
        if not os.environ.get("SCREENSHOTS"):
            return
        self.call("POST", f"{self.session}/window/rect", {"width": 1280, "height": 800})
        png = base64.b64decode(self.call("GET", f"{self.session}/screenshot"))
        folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "images")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{name}.png"), "wb") as file:
            file.write(png)

    def close(self):
        try:
            self.call("DELETE", self.session)
        finally:
            self.process.terminate()
            self.process.wait()
