#!/usr/bin/env python3
"""The console in headless Chromium, page by page, as a developer uses it:
sign in; create an app (keys shown once); create a secret key, use it,
revoke it; see a refused operation's error; add a member and change their
role; switch a sign-in method off and add an outside identity provider;
add a scripted model provider and an agent and give it a built-in tool;
add a webhook; talk to the agent in a thread view and watch its reply
stream in; see the webhook's deliveries and redeliver one; create a
routine and run it; watch the run arrive in the live tail of appEvents.

Usage: check_in_browser.py ORBIT_URL EMAIL PASSWORD OTHER_DEVELOPER_EMAIL"""

import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from webdriver import Driver  # noqa: E402

SCRIPT = {
    "rules": [{"when": "hello", "reply": "Hello from the console's helper, streamed in small pieces."}],
    "default": "You said: {{message}}",
    "chunkChars": 5,
}


def post(base, body, key):
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None


def gql(base, query, variables, key):
    status, body = post(base, {"query": query, "variables": variables}, key)
    if status != 200 or body.get("errors"):
        raise SystemExit(f"browser: {query[:60]}… failed: {status} {body}")
    return body["data"]


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver on loopback: counts what it is sent."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def rows(driver, table):
    return driver.script(f"return [...document.querySelectorAll('#{table} tbody tr')].map(r => r.textContent)")


def click_in_row(driver, table, text, label):
    driver.script(
        f"const row = [...document.querySelectorAll('#{table} tbody tr')].find(r => r.textContent.includes({json.dumps(text)}));"
        f" [...row.querySelectorAll('button')].find(b => b.textContent === {json.dumps(label)}).click();"
    )


def tab(driver, name):
    driver.click(f"#tab-{name}")
    driver.wait_for(f"the {name} page", f"return document.getElementById('page-{name}') && document.getElementById('page-{name}').children.length > 0")


def fill(driver, element_id, value):
    """Sets a field (inputs, selects, textareas) as a person would leave it."""
    driver.script(
        f"const e = document.getElementById({json.dumps(element_id)}); e.value = {json.dumps(value)};"
        " e.dispatchEvent(new Event('change'));"
    )


def main():
    base, email, password, other = sys.argv[1:5]
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    driver = Driver()
    try:
        driver.go(f"{base}/console")
        driver.type("#email", email)
        driver.type("#password", password)
        driver.click("#log-in")
        driver.wait_for("signing in", "return !document.getElementById('signed-in').hidden")
        driver.wait_for("the first app is listed", "return document.getElementById('apps').textContent.includes('First app')")
        print("browser: signed in as the developer; First app is listed")

        # An app, its keys shown once.
        driver.type("#app-name", "Second app")
        driver.click("#create-app")
        created = driver.wait_for(
            "the new app's keys", "const k = document.getElementById('created-keys'); return !k.hidden && k.textContent"
        )
        publishable = re.search(r"pk_\S+", created)
        if not publishable or "sk_" not in created:
            raise SystemExit(f"browser: the keys were not shown: {created}")
        publishable = publishable.group(0)
        driver.wait_for(
            "the app opens on its keys",
            "return document.getElementById('app-title').textContent === 'Second app' && document.getElementById('key-name')",
        )
        print("browser: created Second app; its keys were shown once")

        # A key: made, used, revoked, refused.
        driver.type("#key-name", "CI server")
        driver.click("#create-key")
        shown = driver.wait_for(
            "the new key", "const k = document.getElementById('new-key-value'); return !k.hidden && k.textContent"
        )
        key = shown.rsplit(" ", 1)[-1]
        if not key.startswith("sk_") or post(base, {"query": "{ viewer { __typename } }"}, key)[0] != 200:
            raise SystemExit(f"browser: the new key does not work: {shown}")
        driver.wait_for("the key is listed", "return document.getElementById('keys').textContent.includes('CI server')")
        click_in_row(driver, "keys", "CI server", "Revoke")
        driver.wait_for(
            "the key shows revoked",
            "const row = [...document.querySelectorAll('#keys tbody tr')].find(r => r.textContent.includes('CI server'));"
            " return row && row.children[4].textContent !== ''",
        )
        if post(base, {"query": "{ viewer { __typename } }"}, key)[0] != 401:
            raise SystemExit("browser: the revoked key still works")
        print("browser: made a secret key, used it, revoked it; the API now refuses it")

        driver.click("#create-key")  # no name: the API refuses it, and the page says why
        error = driver.wait_for("the error shows", "return document.getElementById('error').textContent")
        if "BAD_USER_INPUT" not in error:
            raise SystemExit(f"browser: unexpected error text: {error}")
        print(f"browser: a refused operation shows its error: {error}")
        driver.screenshot("console")

        # Members and roles.
        tab(driver, "members")
        driver.type("#member-email", other)
        fill(driver, "member-role", "VIEWER")
        driver.click("#add-member")
        driver.wait_for("the member is listed", f"return document.getElementById('members').textContent.includes({json.dumps(other)})")
        driver.script(
            f"const row = document.querySelector('#members tr[data-row={json.dumps(other)}]');"
            " const role = row.querySelector('select'); role.value = 'DEVELOPER'; role.dispatchEvent(new Event('change'));"
        )
        driver.wait_for(
            "the new role shows after a reload",
            f"const row = document.querySelector('#members tr[data-row={json.dumps(other)}]'); return row && row.querySelector('select').value === 'DEVELOPER'",
        )
        tab(driver, "keys")
        tab(driver, "members")
        role = driver.wait_for(
            "the role read back",
            f"const row = document.querySelector('#members tr[data-row={json.dumps(other)}]'); return row && row.querySelector('select').value",
        )
        if role != "DEVELOPER":
            raise SystemExit(f"browser: the role did not stick: {role}")
        print(f"browser: added {other} as a viewer, made them a developer")

        # Ways to sign in, and an outside identity provider.
        tab(driver, "login")
        driver.script("document.getElementById('setting-magicLinkLogin').checked = false;")
        driver.click("#save-settings")
        driver.wait_for("the settings are saved", "return document.getElementById('settings-saved').textContent === 'Saved.'")
        if driver.script("return document.getElementById('setting-magicLinkLogin').checked"):
            raise SystemExit("browser: magic links are still on after saving")
        driver.type("#provider-slug", "github")
        fill(driver, "provider-preset", "GITHUB")
        driver.type("#provider-client-id", "console-client")
        driver.type("#provider-client-secret", "a client secret")
        driver.click("#add-provider")
        driver.wait_for("the provider is listed", "return document.getElementById('identity-providers').textContent.includes('console-client')")
        if "a client secret" in driver.script("return document.body.innerText"):
            raise SystemExit("browser: the client secret is shown")
        print("browser: switched magic links off; added GitHub sign-in (its secret never shown)")

        # A model provider, an agent, its tools.
        tab(driver, "agents")
        driver.type("#provider-name", "Script")
        fill(driver, "provider-kind", "SCRIPTED")
        fill(driver, "provider-script", json.dumps(SCRIPT))
        driver.click("#create-provider")
        driver.wait_for("the provider is listed", "return document.getElementById('model-providers').textContent.includes('Script')")
        driver.type("#agent-name", "Helper")
        driver.type("#agent-handle", "helper")
        driver.type("#agent-model", "scripted")
        fill(driver, "agent-reply-mode", "ALWAYS")
        driver.click("#create-agent")
        driver.wait_for("the agent is listed", "return document.getElementById('agents').textContent.includes('@helper')")
        driver.click("[data-edit=helper]")
        driver.script("document.getElementById('edit-builtin-READ_THREAD').checked = true;")
        fill(driver, "edit-instructions", "Be brief.")
        driver.click("#save-agent")
        driver.wait_for("the agent has its tool", "return document.getElementById('agents').textContent.includes('read_thread')")
        driver.script("document.getElementById('app').scrollIntoView()")
        driver.screenshot("console-agents")
        print("browser: added a scripted model provider and @helper, and gave it orbit_read_thread")

        # A webhook for new messages.
        tab(driver, "webhooks")
        driver.type("#webhook-url", hook_url)
        driver.type("#webhook-events", "message.created")
        driver.click("#create-webhook")
        secret = driver.wait_for(
            "the signing secret", "const s = document.getElementById('webhook-secret'); return !s.hidden && s.textContent"
        )
        if "whsec_" not in secret and "shown once" not in secret:
            raise SystemExit(f"browser: the signing secret was not shown: {secret}")
        print("browser: added a webhook; its signing secret was shown once")

        # An end user of the app (signed up by its front end), then the thread view.
        ada = gql(
            base,
            "mutation($i: SignUpInput!) { signUp(input: $i) { user { id } } }",
            {"i": {"email": "ada@example.com", "password": "a long user password", "displayName": "Ada"}},
            publishable,
        )
        # The thread view speaks as the app's secret key: the one this page
        # last made was revoked above, so it asks for one, and refuses a
        # publishable key.
        secret_key = created.split("secret key ")[1].split(" ")[0]
        tab(driver, "threads")
        driver.type("#thread-secret", publishable)
        driver.click("#use-key")
        refused = driver.wait_for("the publishable key is refused", "return document.getElementById('error').textContent")
        if "not a secret key" not in refused:
            raise SystemExit(f"browser: unexpected error text: {refused}")
        driver.script("document.getElementById('thread-secret').value = ''")
        driver.type("#thread-secret", secret_key)
        driver.click("#use-key")
        driver.wait_for("the thread form", "return document.getElementById('thread-owner') && document.getElementById('thread-owner').textContent.includes('Ada')")
        driver.type("#thread-title", "Console chat")
        driver.script(
            "const agent = document.getElementById('thread-agent');"
            " agent.value = [...agent.options].find(o => o.textContent.includes('@helper')).value;"
        )
        driver.click("#create-thread")
        driver.wait_for("the thread opens", "return document.getElementById('thread-status') && document.getElementById('thread-status').textContent === 'live'")
        # Count the pieces the reply arrives in, as they arrive.
        driver.script(
            "window.pieces = 0; new MutationObserver(records => { for (const r of records) for (const n of r.addedNodes)"
            " if (n.nodeType === 3 && n.parentElement && n.parentElement.dataset.streaming) window.pieces++; })"
            ".observe(document.getElementById('thread-log'), { childList: true, subtree: true });"
        )
        driver.type("#message-content", "hello there")
        driver.click("#send-message-button")
        driver.wait_for(
            "the reply streams, then stays as the agent's message",
            "const log = document.getElementById('thread-log').textContent;"
            " return log.includes('Ada: hello there') && log.includes(\"@helper: Hello from the console's helper, streamed in small pieces.\")"
            " && !document.querySelector('[data-streaming]')",
            30,
        )
        replies = driver.script("return document.getElementById('thread-log').textContent.split('@helper: Hello from').length - 1")
        if replies != 1:
            raise SystemExit(f"browser: the reply shows {replies} times")
        pieces = driver.script("return window.pieces")
        if pieces < 2:
            raise SystemExit(f"browser: the reply came in {pieces} piece(s), not streamed")
        # The connection drops; a message is sent meanwhile; the view resumes
        # behind the last event it saw and shows it, once.
        thread_id = gql(base, "{ threads(first: 1) { edges { node { id } } } }", {}, secret_key)["threads"]["edges"][0]["node"]["id"]
        driver.click("#thread-drop")
        gql(
            base,
            "mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } } }",
            {"i": {"threadId": thread_id, "content": "sent while the view was away", "authorId": ada["signUp"]["user"]["id"]}},
            secret_key,
        )
        driver.wait_for(
            "the view resumes and shows the message sent meanwhile",
            "return document.getElementById('thread-log').textContent.includes('Ada: sent while the view was away')",
            30,
        )
        driver.wait_for("the reply to it", "return document.getElementById('thread-log').textContent.includes('You said: sent while') && !document.querySelector('[data-streaming]')", 30)
        seen = driver.script("return document.getElementById('thread-log').textContent.split('Ada: sent while the view was away').length - 1")
        if seen != 1:
            raise SystemExit(f"browser: the message sent meanwhile shows {seen} times")
        print("browser: after a dropped connection the thread view resumed: the message sent meanwhile, once")
        driver.script("document.getElementById('thread-view').scrollIntoView()")
        driver.screenshot("console-thread")
        print(f"browser: in the thread view Ada said hello and @helper's reply streamed in {pieces} pieces")

        # The webhook's deliveries, and one sent again.
        tab(driver, "webhooks")
        click_in_row(driver, "webhooks", hook_url, "Deliveries")
        driver.wait_for(
            "the deliveries succeed",
            "const t = document.getElementById('delivery-list'); return t && t.querySelectorAll('tbody tr').length >= 2"
            " && [...t.querySelectorAll('tbody tr')].every(r => r.textContent.includes('succeeded'))",
            30,
        )
        if len(Receiver.received) < 2:
            raise SystemExit(f"browser: the receiver got {len(Receiver.received)} deliveries")
        before = len(Receiver.received)
        driver.script("document.querySelector('#delivery-list tbody tr button').click();")
        for _ in range(100):
            if len(Receiver.received) > before:
                break
            time.sleep(0.1)
        else:
            raise SystemExit("browser: the redelivery never arrived")
        print(f"browser: the webhook delivered every message; redeliver sent one again ({len(Receiver.received)} received)")

        # A routine that posts into the thread: made, run now, its run listed.
        tab(driver, "routines")
        driver.type("#routine-name", "Daily note")
        fill(driver, "routine-trigger", "interval")
        driver.type("#routine-when", "3600")
        fill(driver, "routine-action", "postMessage")
        driver.type("#routine-target", thread_id)
        driver.type("#routine-text", "Good morning from a routine")
        driver.click("#create-routine")
        driver.wait_for("the routine is listed", "return document.getElementById('routines').textContent.includes('Daily note')")
        click_in_row(driver, "routines", "Daily note", "Run now")
        for _ in range(60):
            text = driver.wait_for("the runs", "const t = document.getElementById('runs'); return t && t.textContent + ' '")
            if "succeeded" in text:
                break
            driver.click("#refresh-runs")
            time.sleep(0.2)
        else:
            raise SystemExit(f"browser: the run never succeeded: {text}")
        print("browser: made a routine that posts into the thread; Run now succeeded")

        # The live tail: a run made now shows up as it happens.
        tab(driver, "events")
        driver.wait_for("the tail is live", "return document.getElementById('tail-status').textContent === 'live'")
        routine_id = gql(base, "{ routines(first: 1) { edges { node { id } } } }", {}, secret_key)["routines"]["edges"][0]["node"]["id"]
        gql(base, "mutation($i: RunRoutineInput!) { runRoutine(input: $i) { run { id } } }", {"i": {"id": routine_id}}, secret_key)
        driver.wait_for(
            "the run's events in the tail",
            "return document.querySelector('#tail [data-type=\"routine_run.succeeded\"]') && document.querySelector('#tail [data-type=\"routine_run.started\"]')",
            30,
        )
        print("browser: the live tail showed the run start and succeed")
    finally:
        driver.close()
        receiver.shutdown()


if __name__ == "__main__":
    main()
