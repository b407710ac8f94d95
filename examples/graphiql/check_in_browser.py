#!/usr/bin/env python3
"""GraphiQL at GET /graphql in headless Chromium, as a developer uses it:
with a user's token in the Headers tab, run a query and see its answer, then
a subscription that shows a message sent while it runs. Checks that the
page loaded nothing from another origin.

Usage: check_in_browser.py BASE_URL PUBLISHABLE_KEY"""

import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from webdriver import Driver  # noqa: E402


def gql(base, query, variables=None, credential=None):
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json", **({"authorization": f"Bearer {credential}"} if credential else {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    if body.get("errors"):
        raise SystemExit(f"{query[:60]}: {body['errors']}")
    return body["data"]


def main():
    base, pk = sys.argv[1:3]
    token = gql(
        base,
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
        {"i": {"email": "ada@example.com", "password": "correct horse", "displayName": "Ada"}},
        pk,
    )["signUp"]["accessToken"]
    thread = gql(base, 'mutation { createThread(input: {title: "GraphiQL"}) { thread { id } } }', credential=token)[
        "createThread"
    ]["thread"]["id"]

    driver = Driver()
    try:
        # The token goes in through sessionStorage (never the URL), read by
        # the page at start; queries are typed into the editor.
        driver.go(f"{base}/graphql")
        driver.script(
            "sessionStorage.setItem('orbit.graphiql.headers', "
            + json.dumps(json.dumps({"Authorization": f"Bearer {token}"}))
            + ");"
        )
        driver.go(f"{base}/graphql")
        driver.wait_for("GraphiQL starts", "return document.querySelector('.graphiql-query-editor .CodeMirror') !== null", 20)

        def run(query):
            driver.script(
                "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue("
                + json.dumps(query)
                + ");"
            )
            driver.click(".graphiql-execute-button")

        run("{ me { displayName } }")
        driver.wait_for("the query answers", "return document.body.innerText.includes('\"displayName\": \"Ada\"')")
        print("browser: GraphiQL ran { me { displayName } } as Ada")

        run(
            'subscription { threadEvents(threadId: "%s") { __typename ... on MessageCreatedEvent { message { content } } } }'
            % thread
        )
        deadline = time.time() + 20
        seen = False
        sent = 0
        while time.time() < deadline and not seen:
            sent += 1
            gql(
                base,
                "mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } } }",
                {"i": {"threadId": thread, "content": f"Hello from the check {sent}"}},
                token,
            )
            time.sleep(1)
            seen = driver.script("return document.body.innerText.includes('Hello from the check')")
        if not seen:
            raise SystemExit("browser: the subscription showed no message; page says: " + driver.script("return document.body.innerText"))
        print("browser: the subscription showed a message sent while it ran")
        driver.screenshot("graphiql")

        foreign = driver.script(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin) && !n.startsWith(location.origin.replace('http', 'ws')))"
        )
        if foreign:
            raise SystemExit(f"browser: the page loaded from elsewhere: {foreign}")
        print("browser: every file came from the server itself")
    finally:
        driver.close()


if __name__ == "__main__":
    main()
