// Orbit's console: a developer signs in (the console app's logIn) and
// manages their apps over /graphql. Plain ES modules, no build: the server
// sends them from its binary under a policy that runs no other script.
//
// The session is an access token in sessionStorage (this tab only): it is
// sent as a bearer header, never as a cookie, so another site cannot make
// the browser act with it (no CSRF), and the page renders every value as
// text, never as HTML. Secrets (keys, webhook secrets) are shown once, when
// made, and are never stored or put in a URL.

import { $, button, gql, h, hooks, keepSessionToken, rememberSecretKey, run, sessionToken, showError } from './lib.js';
import * as keys from './keys.js';
import * as members from './members.js';
import * as login from './login.js';
import * as agents from './agents.js';
import * as routines from './routines.js';
import * as webhooks from './webhooks.js';
import * as events from './events.js';
import * as threads from './threads.js';

/// The app's pages, in the order of their tabs. Each `render(app, page)`
/// fills `page` (and may register what to stop when the page is left).
const PAGES = [
  ['keys', 'Keys', keys],
  ['members', 'Members', members],
  ['login', 'Sign-in', login],
  ['agents', 'Agents & tools', agents],
  ['routines', 'Routines', routines],
  ['webhooks', 'Webhooks', webhooks],
  ['events', 'Live events', events],
  ['threads', 'Threads', threads],
];

let openApp = null;
let leavePage = [];

/// Stops what the open page started (subscriptions).
function leave() {
  for (const stop of leavePage) stop();
  leavePage = [];
}

async function showApps() {
  const data = await gql('{ me { displayName email } apps(first: 100) { edges { node { id name viewerRole } } } }');
  $('sign-in').hidden = true;
  $('signed-in').hidden = false;
  $('whoami').textContent = `Signed in as ${data.me.displayName} <${data.me.email}>`;
  $('apps').replaceChildren(
    ...data.apps.edges.map(({ node }) =>
      h('tr', { data: { app: node.id } }, h('td', {}, node.name), h('td', {}, node.viewerRole), h('td', {}, button('Open', () => open(node)))),
    ),
  );
}

async function open(app, tab) {
  // A new app's keys stay on screen only while that app is open.
  if (openApp && openApp.id !== app.id) $('created-keys').hidden = true;
  openApp = app;
  $('app').hidden = false;
  $('app-title').textContent = app.name;
  $('app-id').textContent = app.id;
  $('tabs').replaceChildren(
    ...PAGES.map(([name, title]) => button(title, () => show(name), { id: `tab-${name}`, data: { tab: name } })),
  );
  await show(tab || 'keys');
}

/// Opens one page of the open app.
async function show(name) {
  leave();
  const page = h('div', { id: `page-${name}` });
  $('page').replaceChildren(page);
  for (const tab of $('tabs').children) tab.classList.toggle('open', tab.dataset.tab === name);
  const [, , module] = PAGES.find(([page]) => page === name);
  await module.render(openApp, page, {
    onLeave: (stop) => leavePage.push(stop),
    reload: () => show(name),
    appsChanged: showApps,
    closeApp: () => {
      leave();
      openApp = null;
      $('app').hidden = true;
    },
  });
}

function signOut() {
  leave();
  keepSessionToken(null);
  openApp = null;
  $('sign-in').hidden = false;
  $('signed-in').hidden = true;
  $('app').hidden = true;
  $('created-keys').hidden = true;
}
hooks.signedOut = signOut;

$('sign-in').onsubmit = run(async () => {
  const data = await gql('mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }', {
    input: { email: $('email').value, password: $('password').value },
  });
  keepSessionToken(data.logIn.accessToken);
  $('password').value = '';
  await showApps();
});

$('sign-out').onclick = run(signOut);

$('new-app').onsubmit = run(async () => {
  const data = await gql(
    'mutation($input: CreateAppInput!) { createApp(input: $input) { app { id name viewerRole } publishableKey secretKey } }',
    { input: { name: $('app-name').value } },
  );
  const made = data.createApp;
  rememberSecretKey(made.app.id, made.secretKey);
  $('app-name').value = '';
  $('created-keys').hidden = false;
  $('created-keys').textContent = `${made.app.name}: publishable key ${made.publishableKey} · secret key ${made.secretKey} (shown once: copy it now)`;
  await showApps();
  await open(made.app);
});

if (sessionToken()) showApps().catch((error) => (error.code === 'UNAUTHENTICATED' ? signOut() : showError(error)));
