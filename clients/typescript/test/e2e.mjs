// The client against a running Orbit, as an app's code uses it: sign up
// with the publishable key, make a thread, follow it, lose the connection
// and resume without missing or repeating a message, refresh the session,
// and follow again from a saved cursor in a new client. Exits non-zero,
// saying what failed. Run by run.sh (ORBIT_URL, PK set).
import WebSocket from 'ws';

import { CreateThreadDocument, OrbitClient, OrbitError, SendMessageDocument, SetTypingDocument } from '../dist/index.js';

const url = process.env.ORBIT_URL;
const publishableKey = process.env.PK;
const within = (ms, what, promise) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms))]);

let saved = null;
const client = new OrbitClient({ url, publishableKey, webSocketImpl: WebSocket, onSession: (s) => { saved = s; } });
const session = await client.signUp({ email: 'lin@example.com', password: 'correct horse', displayName: 'Lin' });
if (saved?.accessToken !== session.accessToken) throw new Error('onSession was not told the session');

// Errors come with their code and field.
try {
  await client.request(SendMessageDocument, { input: { threadId: 'thr_nope', content: 'x' } });
  throw new Error('a bad thread id was accepted');
} catch (error) {
  if (!(error instanceof OrbitError) || !error.field) throw error;
  console.log(`errors carry their code and field: ${error.code} on ${error.field}`);
}

const { createThread } = await client.request(CreateThreadDocument, { input: { title: 'Typed' } });
const threadId = createThread.thread.id;

const seen = [];
let lastCursor = null;
let live = false;
let wake = () => {};
const stop = client.followThread(threadId, {
  onEvent: (event) => {
    if (event.__typename === 'TypingEvent') live = true;
    if (event.__typename === 'MessageCreatedEvent') {
      seen.push(event.message.content);
      lastCursor = event.cursor;
      wake();
    }
  },
  onEnd: (reason) => { console.error(`following ended: ${reason}`); process.exit(1); },
});
const until = (count, what) => within(20_000, what, new Promise((resolve) => {
  const look = () => { if (seen.length >= count) resolve(); };
  wake = look; look();
}));
const send = (content) => client.request(SendMessageDocument, { input: { threadId, content } });

// Live: typing (never stored) shows when the subscription is.
for (let i = 0; !live; i++) {
  if (i > 100) throw new Error('the subscription never started');
  await client.request(SetTypingDocument, { input: { threadId, typing: true } });
  await new Promise((r) => setTimeout(r, 100));
}
await send('one');
await send('two');
await send('three');
await until(3, 'three live messages');

// The connection drops; two messages are sent meanwhile; the client comes
// back on a new socket and resumes behind the last cursor it delivered.
client.reconnect();
await send('four');
await send('five');
await until(5, 'the messages sent while disconnected');
const expected = ['one', 'two', 'three', 'four', 'five'];
if (JSON.stringify(seen.slice(0, 5)) !== JSON.stringify(expected)) throw new Error(`seen: ${JSON.stringify(seen)}`);
console.log(`followed live and across a reconnect: ${seen.join(', ')} (each once, in order)`);
stop();

// A refresh rotates the refresh token; the new access token works.
const before = client.currentSession.refreshToken;
await client.refreshSession();
if (client.currentSession.refreshToken === before) throw new Error('the refresh kept the old refresh token');
const me = await client.me();
if (me?.displayName !== 'Lin') throw new Error(`me: ${JSON.stringify(me)}`);
console.log('the session refreshed (a new refresh token); me() answers with the new access token');

// A new client (the app restarted) with the stored session follows from
// the saved cursor: it gets what came after, and nothing before.
const restarted = new OrbitClient({ url, publishableKey, webSocketImpl: WebSocket, session: saved });
await send('six');
const resumed = [];
await within(20_000, 'resuming from a saved cursor', new Promise((resolve) => {
  const stopAgain = restarted.followThread(threadId, {
    after: lastCursor,
    onEvent: (event) => {
      if (event.__typename !== 'MessageCreatedEvent') return;
      resumed.push(event.message.content);
      if (resumed.length === 1) { stopAgain(); resolve(); }
    },
  });
}));
if (JSON.stringify(resumed) !== '["six"]') throw new Error(`resumed: ${JSON.stringify(resumed)}`);
console.log('a new client resumed from the saved cursor: six');
restarted.signOut();
client.signOut();
console.log('ok');
