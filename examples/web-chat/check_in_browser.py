#!/usr/bin/env python3
"""The web chat in headless Chromium, as a user uses it: sign up, create a
thread, see who is in it with their presence and another member typing, ask the agent and
watch its reply stream in, drop the connection and see what was said
meanwhile. The other member and the agent are set up over the API.

Usage: check_in_browser.py CHAT_URL ORBIT_URL PUBLISHABLE_KEY SECRET_KEY"""

import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from webdriver import Driver  # noqa: E402


def gql(base, query, variables, credential):
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {credential}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    if body.get("errors"):
        raise SystemExit(f"{query[:60]}: {body['errors']}")
    return body["data"]


def main():
    chat, orbit, pk, sk = sys.argv[1:5]
    provider = gql(
        orbit,
        "mutation($i: CreateModelProviderInput!) { createModelProvider(input: $i) { modelProvider { id } } }",
        {"i": {"name": "Script", "kind": "SCRIPTED", "script": {"rules": [{"when": "weather", "reply": "Sunny, 24 degrees, light wind from the west."}], "default": "You said: {{message}}", "chunkChars": 6}}},
        sk,
    )["createModelProvider"]["modelProvider"]["id"]
    agent = gql(
        orbit,
        "mutation($i: CreateAgentInput!) { createAgent(input: $i) { agent { id } } }",
        {"i": {"name": "Helper", "handle": "helper", "instructions": "Be brief.", "model": {"provider": provider, "model": "demo"}, "replyMode": "MENTION"}},
        sk,
    )["createAgent"]["agent"]["id"]
    bo = gql(
        orbit,
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }",
        {"i": {"email": "bo@example.com", "password": "correct horse", "displayName": "Bo"}},
        pk,
    )["signUp"]

    driver = Driver()
    try:
        driver.go(chat)
        driver.wait_for("the page starts", "return document.getElementById('sign-up') !== null")
        driver.type("#name", "Ada")
        driver.type("#email", "ada@example.com")
        driver.type("#password", "correct horse")
        driver.click("#sign-up")
        driver.wait_for("signing up", "return !document.getElementById('signed-in').hidden")
        driver.type("#new-thread", "Planning")
        driver.click("#create-thread")
        thread = driver.wait_for("the thread opens", "return window.chat.threadId")
        token = driver.wait_for("the session", "return JSON.parse(sessionStorage.getItem('orbit.chat.session')).accessToken")
        print(f"browser: signed up as Ada and opened thread {thread}")

        # Bo and the agent join (the app's server adds them, with its secret key); Bo types.
        for participant in ({"userId": bo["user"]["id"]}, {"agentId": agent}):
            gql(orbit, "mutation($i: AddThreadParticipantInput!) { addThreadParticipant(input: $i) { thread { id } } }",
                {"i": {"threadId": thread, **participant}}, sk)
        driver.wait_for("the participants show", "return document.getElementById('participants').textContent.includes('@helper')")
        driver.wait_for("Bo's presence shows", "return document.getElementById('participants').textContent.includes('Bo (offline)')")
        deadline = time.time() + 15
        while time.time() < deadline:
            gql(orbit, "mutation($i: SetTypingInput!) { setTyping(input: $i) { typing } }", {"i": {"threadId": thread, "typing": True}}, bo["accessToken"])
            if driver.script("return document.getElementById('typing').textContent.includes('Bo typing')"):
                break
            time.sleep(0.3)
        else:
            raise SystemExit("browser: Bo's typing never showed")
        print("browser: the thread shows who is in it with their presence (Bo offline, @helper), and Bo typing")

        # Ask the agent; its reply streams in pieces, then stays.
        driver.type("#composer", "@helper how is the weather?")
        driver.click("#send")
        driver.wait_for(
            "the reply streams, then stays as the agent's message",
            "return document.getElementById('messages').textContent.includes('@helper: Sunny, 24 degrees, light wind from the west.') && !document.querySelector('[data-reply]')",
            30,
        )
        pieces = driver.script("return Math.max(0, ...Object.values(window.chat.pieces))")
        if pieces < 2:
            raise SystemExit(f"browser: the reply came in {pieces} piece(s), not streamed")
        print(f"browser: @helper's reply streamed in {pieces} pieces")
        driver.screenshot("web-chat")

        # The connection drops; Bo writes meanwhile; the chat resumes and shows it.
        driver.click("#reconnect")
        gql(orbit, "mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } } }",
            {"i": {"threadId": thread, "content": "Written while you were away"}}, bo["accessToken"])
        driver.wait_for("the message sent meanwhile", "return document.getElementById('messages').textContent.includes('Bo: Written while you were away')", 20)
        count = driver.script("return [...document.querySelectorAll('.message')].filter(m => m.textContent.includes('Written while you were away')).length")
        if count != 1:
            raise SystemExit(f"browser: the message sent meanwhile shows {count} times")
        print("browser: after the dropped connection the chat resumed: Bo's message, once")
    finally:
        driver.close()


if __name__ == "__main__":
    main()
