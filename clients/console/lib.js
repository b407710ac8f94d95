// What every page of the console shares: the API over HTTP and WebSocket,
// errors shown as the API gives them, and a few builders of DOM nodes.
//
// Every value from the API goes into the page as text (text nodes,
// textContent, input values), never as HTML.

const TOKEN = 'orbit.console.token';

export const $ = (id) => document.getElementById(id);

/// The developer's access token (this tab only), or null.
export function sessionToken() {
  return sessionStorage.getItem(TOKEN);
}

export function keepSessionToken(token) {
  if (token) sessionStorage.setItem(TOKEN, token);
  else sessionStorage.removeItem(TOKEN);
}

/// Called when the developer's token stops working (set by console.js).
export const hooks = { signedOut: () => {} };

/// An error the API gave, worded as `CODE on field: message`.
export class ApiError extends Error {
  constructor(error) {
    const code = (error.extensions && error.extensions.code) || 'ERROR';
    const field = error.extensions && error.extensions.details && error.extensions.details.field;
    super(`${code}${field ? ` on ${field}` : ''}: ${error.message}`);
    this.code = code;
  }
}

/// One GraphQL request over HTTP. `credential` defaults to the developer's
/// token; the thread view passes an app's secret key instead.
export async function gql(query, variables, credential) {
  const token = credential || sessionToken();
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
    const failure = new ApiError(error);
    if (failure.code === 'UNAUTHENTICATED' && !credential && token) hooks.signedOut();
    throw failure;
  }
  return body.data;
}

/// One mutation of the app's configuration: `name(input: $input) {
/// selection }`, the app's id added to `input`.
export function mutateApp(app, name, inputType, selection, input) {
  return gql(`mutation($input: ${inputType}!) { ${name}(input: $input) { ${selection} } }`, {
    input: Object.assign({ appId: app.id }, input),
  });
}

export function showError(error) {
  $('error').textContent = error ? error.message : '';
}

/// An event handler that runs `action`, clearing the last error first and
/// showing the one it throws.
export function run(action) {
  return (event) => {
    if (event) event.preventDefault();
    showError(null);
    Promise.resolve()
      .then(() => action(event))
      .catch(showError);
  };
}

/// `h('button', { id, onclick }, 'Label')`: an element with its properties
/// set and its children (strings become text nodes) appended. `on*`
/// handlers go through `run`, so what they throw is shown.
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value == null) continue;
    if (name.startsWith('on')) node[name] = run(value);
    else if (name === 'data') Object.assign(node.dataset, value);
    else if (name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/// A table of `rows` (arrays of cells: text or nodes) under `headers`;
/// `key(row index)` names each row in `data-row` for tests and styles.
export function table(id, headers, rows, key) {
  return h(
    'table',
    { id },
    h('thead', {}, h('tr', {}, headers.map((title) => h('th', {}, title)))),
    h(
      'tbody',
      {},
      rows.map((cells, index) =>
        h('tr', { data: key ? { row: key(index) } : {} }, cells.map((value) => h('td', {}, value == null ? '' : value))),
      ),
    ),
  );
}

export const input = (id, placeholder, props) => h('input', Object.assign({ id, placeholder, name: id }, props || {}));

export const select = (id, options, props) =>
  h(
    'select',
    Object.assign({ id, name: id }, props || {}),
    options.map((option) => (Array.isArray(option) ? h('option', { value: option[0] }, option[1]) : h('option', { value: option }, option))),
  );

export const checkbox = (id, label, checked) =>
  h('label', {}, h('input', { id, name: id, type: 'checkbox', checked: Boolean(checked) }), ` ${label}`);

/// A form that calls `onSubmit` (errors shown) when sent.
export const form = (id, onSubmit, ...children) => h('form', { id, onsubmit: onSubmit }, children);

export const button = (label, onclick, props) => h('button', Object.assign({ type: 'button', onclick }, props || {}), label);

/// `value` of the input with this id, trimmed; null when empty.
export function valueOf(id) {
  const value = $(id).value.trim();
  return value === '' ? null : value;
}

/// The text of a JSON input, parsed; a clear error when it is not JSON.
export function jsonOf(id, field) {
  const text = valueOf(id);
  if (text == null) return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`BAD_USER_INPUT on ${field}: not JSON (${error.message})`);
  }
}

export const when = (at) => (at ? new Date(at).toLocaleString() : '');

/// Follows one subscription over `/graphql` (graphql-transport-ws): calls
/// `onEvent` with each event, keeps the last `cursor`, and after a dropped
/// connection connects again and resumes behind it (`after`), so nothing
/// is missed or seen twice. Returns `close()`. `onStatus` hears
/// 'live', 'reconnecting' and 'closed: reason'.
///
/// `load` ({ query, variables, onData }) is a query sent on the same socket
/// right after the subscription: the server runs it once the subscription
/// listens, so what it reads and the events that follow leave no gap
/// (something changed in between may come in both: apply events by id). It
/// runs again after a reconnect that has no cursor to resume from.
export function follow({ query, variables, credential, onEvent, onStatus, load }) {
  let cursor = variables.after || null;
  let socket = null;
  let stopped = false;
  let retry = 0;
  const status = onStatus || (() => {});

  function connect() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
    socket = new WebSocket(url, 'graphql-transport-ws');
    const token = credential || sessionToken();
    socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === 'connection_ack') {
        retry = 0;
        const payload = { query, variables: Object.assign({}, variables, { after: cursor }) };
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
        if (load && !cursor) {
          socket.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: load.query, variables: load.variables || {} } }));
        }
        status('live');
      } else if (frame.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      } else if (frame.type === 'next' && frame.id === '2') {
        if (frame.payload.errors) showError(new ApiError(frame.payload.errors[0]));
        else load.onData(frame.payload.data);
      } else if (frame.type === 'next') {
        const data = frame.payload.data;
        const event = data && Object.values(data)[0];
        if (event && event.cursor) cursor = event.cursor;
        if (event) onEvent(event);
      } else if (frame.type === 'error' && frame.id === '2') {
        showError(new ApiError(frame.payload[0] || { message: 'the query was refused' }));
      } else if (frame.type === 'error') {
        stopped = true;
        showError(new ApiError(frame.payload[0] || { message: 'the subscription was refused' }));
        socket.close(1000);
        status('closed: refused');
      }
    };
    socket.onclose = (closed) => {
      if (stopped) return;
      // These say the request or the credential is wrong: trying again
      // would be refused the same way.
      if ([4400, 4401, 4403, 4409, 4429].includes(closed.code)) {
        stopped = true;
        status(`closed: ${closed.code} ${closed.reason}`);
        return;
      }
      status('reconnecting');
      retry = Math.min(retry + 1, 5);
      setTimeout(() => !stopped && connect(), 250 * 2 ** retry);
    };
  }

  connect();
  return {
    close() {
      stopped = true;
      if (socket) socket.close(1000);
    },
    /// Drops the connection as a network would (for trying the resume).
    drop() {
      if (socket) socket.close(4000, 'dropped on purpose');
    },
  };
}

/// Secret keys this page made or was given, by app id: in memory only, so
/// they are gone when the tab reloads or closes (never stored, never in a
/// URL). The thread view speaks to an app as its secret key.
const secretKeys = new Map();

/// `keyId` (when known) lets revoking that key forget it here too.
export const rememberSecretKey = (appId, key, keyId) => secretKeys.set(appId, { key, keyId: keyId || null });
export const secretKeyOf = (appId) => (secretKeys.has(appId) ? secretKeys.get(appId).key : null);

/// Forgets the app's key: any (no `keyId`), or only the one with that id.
export function forgetSecretKey(appId, keyId) {
  const kept = secretKeys.get(appId);
  if (kept && (!keyId || kept.keyId === keyId)) secretKeys.delete(appId);
}
