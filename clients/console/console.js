// Orbit's console: a developer signs in (the console app's logIn) and
// manages apps and their keys over /graphql. Plain script, no build: the
// server sends it from its binary under a policy that runs no other script.
//
// The session is an access token in sessionStorage (this tab only): it is
// sent as a bearer header, never as a cookie, so another site cannot make
// the browser act with it (no CSRF), and the page renders every value as
// text (textContent), never as HTML. A key's secret is shown once, when
// made, and is never stored or put in a URL.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN = 'orbit.console.token';
  let openAppId = null;

  async function gql(query, variables) {
    const token = sessionStorage.getItem(TOKEN);
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: Object.assign(
        { 'content-type': 'application/json' },
        token ? { authorization: `Bearer ${token}` } : {},
      ),
      body: JSON.stringify({ query, variables: variables || {} }),
    });
    const body = await response.json();
    const error = body.errors && body.errors[0];
    if (error) {
      const code = (error.extensions && error.extensions.code) || 'ERROR';
      const field = error.extensions && error.extensions.details && error.extensions.details.field;
      if (code === 'UNAUTHENTICATED' && token) signOut();
      throw new Error(`${code}${field ? ` on ${field}` : ''}: ${error.message}`);
    }
    return body.data;
  }

  function showError(error) {
    $('error').textContent = error ? error.message : '';
  }

  function run(action) {
    return (event) => {
      if (event) event.preventDefault();
      showError(null);
      Promise.resolve().then(action).catch(showError);
    };
  }

  function cell(text) {
    const td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    return td;
  }

  function button(label, onClick, id) {
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    if (id) b.id = id;
    b.onclick = run(onClick);
    td.append(b);
    return td;
  }

  async function signedIn() {
    const data = await gql('{ me { displayName email } apps(first: 100) { edges { node { id name viewerRole } } } }');
    $('sign-in').hidden = true;
    $('signed-in').hidden = false;
    $('whoami').textContent = `Signed in as ${data.me.displayName} <${data.me.email}>`;
    $('apps').replaceChildren(
      ...data.apps.edges.map(({ node }) => {
        const row = document.createElement('tr');
        row.dataset.app = node.id;
        row.append(cell(node.name), cell(node.viewerRole), button('Open', () => openApp(node.id)));
        return row;
      }),
    );
  }

  async function openApp(appId) {
    openAppId = appId;
    $('new-key-value').hidden = true;
    const data = await gql(
      'query($id: ID!) { app(id: $id) { id name apiKeys(first: 100) { edges { node { id name kind hint lastUsedAt revokedAt } } } } }',
      { id: appId },
    );
    $('app').hidden = false;
    $('app-title').textContent = data.app.name;
    $('keys').replaceChildren(
      ...data.app.apiKeys.edges.map(({ node }) => {
        const row = document.createElement('tr');
        row.dataset.key = node.id;
        row.append(
          cell(node.name),
          cell(node.kind.toLowerCase()),
          cell(node.hint),
          cell(node.lastUsedAt || 'never'),
          cell(node.revokedAt || ''),
          node.revokedAt ? cell('') : button('Revoke', () => revoke(node.id)),
        );
        return row;
      }),
    );
  }

  async function revoke(keyId) {
    await gql('mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { id revokedAt } } }', {
      input: { appId: openAppId, id: keyId },
    });
    await openApp(openAppId);
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN);
    $('sign-in').hidden = false;
    $('signed-in').hidden = true;
    $('app').hidden = true;
    $('created-keys').hidden = true;
  }

  $('sign-in').onsubmit = run(async () => {
    const data = await gql('mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }', {
      input: { email: $('email').value, password: $('password').value },
    });
    sessionStorage.setItem(TOKEN, data.logIn.accessToken);
    $('password').value = '';
    await signedIn();
  });

  $('sign-out').onclick = run(signOut);

  $('new-app').onsubmit = run(async () => {
    const data = await gql(
      'mutation($input: CreateAppInput!) { createApp(input: $input) { app { id name } publishableKey secretKey } }',
      { input: { name: $('app-name').value } },
    );
    const made = data.createApp;
    $('app-name').value = '';
    $('created-keys').hidden = false;
    $('created-keys').textContent = `${made.app.name}: publishable key ${made.publishableKey} · secret key ${made.secretKey} (shown once: copy it now)`;
    await signedIn();
    await openApp(made.app.id);
  });

  $('new-key').onsubmit = run(async () => {
    const data = await gql(
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id } } }',
      { input: { appId: openAppId, kind: $('key-kind').value, name: $('key-name').value } },
    );
    $('key-name').value = '';
    await openApp(openAppId);
    $('new-key-value').hidden = false;
    $('new-key-value').textContent = `New key (shown once: copy it now): ${data.createApiKey.key}`;
  });

  $('delete-app').onclick = run(async () => {
    if (!window.confirm('Delete this app and everything in it?')) return;
    await gql('mutation($input: DeleteAppInput!) { deleteApp(input: $input) { deletedAppId } }', {
      input: { appId: openAppId },
    });
    $('app').hidden = true;
    await signedIn();
  });

  if (sessionStorage.getItem(TOKEN)) signedIn().catch(() => signOut());
})();
