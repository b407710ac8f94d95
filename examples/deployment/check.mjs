// Parts (c) and (d) of run.sh: a thread followed through nginx with the
// reference graphql-ws client, as docs/realtime.md tells clients to.
//
// (c) The subscription's socket is on one process; messages sent over HTTP
//     through nginx land on all three (round robin), and the subscriber
//     gets each once, in order: what one process commits reaches sockets
//     on the others (through Redis).
// (d) The process holding the socket is killed with SIGKILL. Sends through
//     nginx keep being answered (nginx passes a request it could not
//     connect for to another process); the client connects again through
//     nginx, lands on a live process, resumes with `after:` its last
//     cursor, and has every message once, in order. The thread holds each
//     once, with the ids the sends were answered with.
//
//   ORBIT_URL=http://127.0.0.1:<nginx port> TOKEN=<access token> THREAD=thr_... \
//   PIDS='{"127.0.0.1:<port>": <pid>, ...}' KILLED=<file> node check.mjs
//
// nginx's run.sh configuration names the process that answered each
// request, and each WebSocket handshake, in the X-Upstream header: after a
// failover it lists every process tried, the one that answered last.
import { writeFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
};
const BASE = env('ORBIT_URL');
const HTTP = `${BASE}/graphql`;
const WS = HTTP.replace(/^http/, 'ws');
const TOKEN = env('TOKEN');
const THREAD = env('THREAD');
const PIDS = JSON.parse(env('PIDS'));
const KILLED = env('KILLED');

const THREAD_EVENTS = `subscription($threadId: ID!, $after: String) {
  threadEvents(threadId: $threadId, after: $after) {
    __typename
    ... on Event { cursor }
    ... on MessageCreatedEvent { message { id content } }
  }
}`;
const SEND = 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id content } } }';

function fail(why) {
  console.error(`FAIL ${why}`);
  process.exit(1);
}
setTimeout(() => fail('check.mjs did not finish within 60 s'), 60_000).unref();

const answeredBy = (header) => (header ?? '').split(',').pop().trim();

async function gql(query, variables) {
  const response = await fetch(HTTP, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (response.status !== 200 || !body || body.errors) {
    fail(`HTTP ${response.status} from ${response.headers.get('x-upstream') ?? 'nginx'}: ${text.slice(0, 300)}`);
  }
  return { data: body.data, via: response.headers.get('x-upstream') ?? '' };
}

// One send, answered the first time: no retry here, so a request nginx
// could not place would fail the check.
async function send(n) {
  const { data, via } = await gql(SEND, {
    i: { threadId: THREAD, content: `m${n}`, idempotencyKey: `deploy-${n}` },
  });
  return { id: data.sendMessage.message.id, via, by: answeredBy(via) };
}

const received = []; // contents of MessageCreatedEvents, as they came
const receivedIds = [];
let after = null; // the cursor of the last event
let socketEnded = null; // resolves when the current socket ends

// Subscribes on a new socket (after `after`), and returns once the
// subscription listens, with the process nginx gave the socket to.
async function listen() {
  let upstream = '';
  // graphql-ws builds the socket; this one notes the handshake's answer.
  class TracedWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      this.on('upgrade', (response) => {
        upstream = answeredBy(response.headers['x-upstream']);
      });
    }
  }
  const client = createClient({
    url: WS,
    webSocketImpl: TracedWebSocket,
    connectionParams: { authorization: `Bearer ${TOKEN}` },
    retryAttempts: 0,
    lazy: true,
  });
  let ended;
  socketEnded = new Promise((resolve) => {
    ended = resolve;
  });
  client.subscribe(
    { query: THREAD_EVENTS, variables: { threadId: THREAD, after } },
    {
      next(result) {
        if (result.errors) fail(`the subscription answered errors: ${JSON.stringify(result.errors)}`);
        const event = result.data?.threadEvents;
        if (!event) return;
        after = event.cursor;
        if (event.__typename === 'MessageCreatedEvent') {
          received.push(event.message.content);
          receivedIds.push(event.message.id);
        }
      },
      error(error) {
        if (Array.isArray(error)) fail(`the subscription was refused: ${JSON.stringify(error)}`);
        ended(error?.code ?? error?.message ?? String(error));
      },
      complete() {
        ended('completed');
      },
    },
  );
  // A query on the same socket is answered once the subscription listens
  // (docs/realtime.md, "When a subscription is live").
  await new Promise((resolve) => {
    client.subscribe(
      { query: '{ viewer { kind } }' },
      {
        next() {},
        error(error) {
          fail(`the readiness query failed: ${JSON.stringify(error?.code ?? error)}`);
        },
        complete: resolve,
      },
    );
  });
  if (!upstream) fail('the WebSocket handshake had no X-Upstream header');
  return { client, upstream };
}

async function until(condition, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) fail(`${what}: not within ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const expected = (n) => Array.from({ length: n }, (_, i) => `m${i + 1}`);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const count = (names) =>
  [...new Set(names)]
    .sort()
    .map((name) => `${name} x${names.filter((n) => n === name).length}`)
    .join(', ');

// (c)
const first = await listen();
const sends = [];
for (let n = 1; n <= 6; n += 1) sends.push(await send(n));
await until(() => received.length >= 6, 'the subscriber did not get m1..m6');
if (!same(received, expected(6))) fail(`the subscriber got ${JSON.stringify(received)}, not m1..m6 in order`);
const senders = new Set(sends.map((s) => s.by));
const others = [...senders].filter((by) => by !== first.upstream);
if (others.length === 0) fail(`every send was answered by the socket's own process ${first.upstream}`);
if (senders.size !== 3) fail(`the sends were answered by ${count(sends.map((s) => s.by))}, not by all three processes`);
console.log(
  `PASS (c) a graphql-transport-ws subscription through nginx, its socket on ${first.upstream}, ` +
    `got m1..m6 once each in order, sent through nginx and answered by ${count(sends.map((s) => s.by))}`,
);

// (d)
const victim = first.upstream;
const pid = PIDS[victim];
if (!pid) fail(`no pid for ${victim} in PIDS`);
process.kill(pid, 'SIGKILL');
writeFileSync(KILLED, `${victim}\n`);
const why = await Promise.race([
  socketEnded,
  new Promise((resolve) => setTimeout(() => resolve(null), 10_000)),
]);
if (why === null) fail(`the socket on ${victim} was still open 10 s after its process was killed`);
first.client.dispose();

// Sent while the subscriber is away: it must get them when it resumes.
for (let n = 7; n <= 12; n += 1) sends.push(await send(n));
const later = sends.slice(6);
if (later.some((s) => s.by === victim)) fail(`a send was answered by the killed process ${victim}`);
const passedOn = later.filter((s) => s.via.includes(','));
if (passedOn.length === 0) fail(`nginx never tried the killed process ${victim}: the failover was not exercised`);

const second = await listen();
if (second.upstream === victim) fail(`the new socket was given to the killed process ${victim}`);
await until(() => received.length >= 12, `the resumed subscriber did not get m7..m12 (it has ${received.length})`);
// Long enough for a repeat to show.
await new Promise((resolve) => setTimeout(resolve, 500));
second.client.dispose();
if (!same(received, expected(12))) fail(`the subscriber got ${JSON.stringify(received)}, not m1..m12 once each in order`);
if (!same(receivedIds, sends.map((s) => s.id))) fail('the subscriber got other message ids than the sends were answered with');

const { data } = await gql(
  'query($id: ID!) { thread(id: $id) { messages(first: 50) { edges { node { id content } } } } }',
  { id: THREAD },
);
const stored = data.thread.messages.edges.map((edge) => edge.node);
if (!same(stored.map((m) => m.content), expected(12))) {
  fail(`the thread holds ${JSON.stringify(stored.map((m) => m.content))}, not m1..m12 once each`);
}
if (!same(stored.map((m) => m.id), sends.map((s) => s.id))) fail('the thread holds other ids than the sends were answered with');

console.log(
  `PASS (d) ${victim} (pid ${pid}) killed with SIGKILL under the subscriber: m7..m12 sent through nginx were ` +
    `each answered the first time (by ${count(later.map((s) => s.by))}; ${passedOn.length} of them tried on ` +
    `${victim} first and passed on by nginx); the client reconnected through nginx to ${second.upstream}, ` +
    `resumed after its last cursor and has m1..m12 once each in order; the thread holds them once each`,
);
process.exit(0);
