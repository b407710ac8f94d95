// The subscriber of sigkill.sh: follows one thread with the reference
// graphql-ws client the way docs/realtime.md tells clients to, and writes the
// content of every MessageCreatedEvent it gets, one a line, to OUT.
//
// When the socket drops (the server was killed) it connects again and
// subscribes with `after:` the cursor of the last event it got, until it has
// seen EXPECT messages (then waits GRACE_MS more, to catch a late repeat) or
// DEADLINE_S seconds have passed (exit 2).
//
//   ORBIT_URL=http://127.0.0.1:8080 TOKEN=<access token> THREAD=thr_... \
//   EXPECT=150 OUT=received.txt READY=ready DEADLINE_S=50 node subscriber.mjs
//
// graphql-ws and ws come from examples/graphql-ws/node_modules (its `npm ci`).
import { appendFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../graphql-ws/package.json', import.meta.url));
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
};
const WS = `${env('ORBIT_URL')}/graphql`.replace(/^http/, 'ws');
const TOKEN = env('TOKEN');
const THREAD = env('THREAD');
const EXPECT = Number(env('EXPECT'));
const OUT = env('OUT');
const READY = env('READY');
const DEADLINE_S = Number(process.env.DEADLINE_S ?? 50);
const GRACE_MS = Number(process.env.GRACE_MS ?? 1000);

const THREAD_EVENTS = `subscription($threadId: ID!, $after: String) {
  threadEvents(threadId: $threadId, after: $after) {
    __typename
    ... on Event { cursor }
    ... on MessageCreatedEvent { cursor message { content } }
  }
}`;

const log = (...args) => console.log('subscriber:', ...args);
writeFileSync(OUT, '');

let after = null; // the cursor of the last event received
let received = 0;
let subscriptions = 0;
let client = null;
let done = false;

function finish(code, why) {
  if (done) return;
  done = true;
  log(why);
  try {
    client?.dispose();
  } catch {}
  // Let the log line out, then stop even if a socket lingers.
  setTimeout(() => process.exit(code), 50);
}

setTimeout(
  () => finish(2, `time limit of ${DEADLINE_S}s reached with ${received} of ${EXPECT} messages`),
  DEADLINE_S * 1000,
).unref();

function again(why) {
  if (done) return;
  log(`${why}; subscribing again after ${after ? 'the last cursor' : 'nothing (from now)'} in 200 ms`);
  try {
    client?.dispose();
  } catch {}
  client = null;
  setTimeout(start, 200);
}

function start() {
  if (done) return;
  subscriptions += 1;
  const first = subscriptions === 1;
  // A new client (one socket) per attempt; graphql-ws's own retries would
  // resubscribe with the first `after`, so they are off.
  const current = createClient({
    url: WS,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${TOKEN}` },
    retryAttempts: 0,
    lazy: true,
  });
  client = current;
  let ended = false;
  const end = (why) => {
    if (ended || client !== current) return;
    ended = true;
    again(why);
  };
  current.subscribe(
    { query: THREAD_EVENTS, variables: { threadId: THREAD, after } },
    {
      next(result) {
        if (result.errors) {
          finish(1, `subscription answered errors: ${JSON.stringify(result.errors)}`);
          return;
        }
        const event = result.data?.threadEvents;
        if (!event) return;
        after = event.cursor;
        if (event.__typename === 'MessageCreatedEvent') {
          appendFileSync(OUT, `${event.message.content}\n`);
          received += 1;
          if (received === EXPECT) {
            setTimeout(() => finish(0, `got ${received} messages over ${subscriptions} subscription(s)`), GRACE_MS);
          }
        }
      },
      error(err) {
        if (Array.isArray(err)) {
          // Refused: GraphQL errors are not something a reconnect cures.
          finish(1, `subscription refused: ${JSON.stringify(err)}`);
          return;
        }
        end(`socket closed (${err?.code ?? err?.message ?? err})`);
      },
      complete() {
        end('subscription completed');
      },
    },
  );
  if (first) {
    // A query on the same socket runs once the subscription listens
    // (docs/realtime.md, "When a subscription is live").
    current.subscribe(
      { query: '{ viewer { kind } }' },
      {
        next() {},
        error(err) {
          finish(1, `the readiness query failed: ${JSON.stringify(err?.code ?? err)}`);
        },
        complete() {
          writeFileSync(READY, 'ready\n');
          log('listening');
        },
      },
    );
  }
}

start();
