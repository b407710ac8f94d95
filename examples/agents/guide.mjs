// Follows docs/agents.md and docs/webhooks.md against a running `orbit serve`
// as a newcomer would: a scripted provider and an agent, a thread with the
// agent in it, a subscriber that sees the reply stream in and then the
// stored message, a routine on a one-minute cron that posts into the
// thread, and a webhook receiver that verifies the signature of every
// delivery it gets. Exits non-zero, saying what failed, when any of it
// does not happen. Run by run.sh (ORBIT_URL, SK, PK set).
import crypto from 'node:crypto';
import http from 'node:http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = process.env.ORBIT_URL;
const SK = process.env.SK;
const PK = process.env.PK;
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms));

async function gql(credential, query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// docs/webhooks.md, "Verifying a delivery" (Node).
const TOLERANCE = 300;
function verify(secret, header, rawBody, now = Date.now() / 1000) {
  const parts = header.split(',').map((p) => p.trim().split('='));
  const timestamps = parts.filter(([k]) => k === 't').map(([, v]) => v);
  const signatures = parts.filter(([k]) => k === 'v1').map(([, v]) => v);
  if (timestamps.length !== 1 || !/^\d+$/.test(timestamps[0])) return false;
  const t = timestamps[0];
  if (Math.abs(now - Number(t)) > TOLERANCE) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  return signatures.some((s) => {
    const given = Buffer.from(s, 'hex');
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}

// A webhook receiver on loopback (the server runs with ORBIT_WEBHOOK_ALLOW_PRIVATE).
let signingSecret = null;
const deliveries = [];
const waiters = [];
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const signed = verify(signingSecret, req.headers['orbit-signature'] ?? '', raw);
    const event = JSON.parse(raw.toString('utf8'));
    deliveries.push({ signed, event, id: req.headers['orbit-event-id'] });
    res.writeHead(signed ? 200 : 400).end();
    for (const wake of waiters.splice(0)) wake();
  });
});
await new Promise((ready) => receiver.listen(0, '127.0.0.1', ready));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hooks`;
const delivered = (type) =>
  new Promise((resolve) => {
    const look = () => {
      const found = deliveries.find((d) => d.event.type === type);
      if (found) resolve(found);
      else waiters.push(look);
    };
    look();
  });

// 0. The webhook, so that it hears everything below.
const hook = await gql(SK, `mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { signingSecret webhook { id } } }`,
  { i: { url: hookUrl, eventTypes: ['message.created', 'agent_reply.completed', 'routine_run.succeeded'] } });
signingSecret = hook.createWebhook.signingSecret;

// 1–3. A scripted provider, an agent, a user and a thread with the agent in it.
const provider = (await gql(SK, `mutation($i: CreateModelProviderInput!) { createModelProvider(input: $i) { modelProvider { id } } }`, {
  i: { name: 'Demo script', kind: 'SCRIPTED', script: {
    rules: [{ when: 'weather', reply: 'Sunny, 24 °C, light wind from the west.' }],
    default: 'You said: {{message}}', chunkChars: 6 } },
})).createModelProvider.modelProvider.id;
const agent = (await gql(SK, `mutation($i: CreateAgentInput!) { createAgent(input: $i) { agent { id handle } } }`, {
  i: { name: 'Helper', handle: 'helper', instructions: 'You are brief and friendly.',
       model: { provider, model: 'demo' }, replyMode: 'ALWAYS' },
})).createAgent.agent.id;
const token = (await gql(PK, `mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
  { i: { email: 'ada@example.com', password: 'correct horse', displayName: 'Ada' } })).signUp.accessToken;
const thread = (await gql(token, `mutation { createThread(input: {title: "Ask the helper"}) { thread { id } } }`)).createThread.thread.id;
await gql(token, `mutation($i: AddThreadParticipantInput!) { addThreadParticipant(input: $i) { thread { id } } }`,
  { i: { threadId: thread, agentId: agent } });

// 4. Watch the thread (the guide's watch.mjs, collecting instead of printing).
const client = createClient({
  url: `${base.replace('http', 'ws')}/graphql`,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
});
const seen = [];
let onEvent = () => {};
client.subscribe({
  query: `subscription($id: ID!) { threadEvents(threadId: $id) {
    ... on Event { type }
    ... on AgentReplyDeltaEvent { replyId sequence delta }
    ... on AgentReplyCompletedEvent { message { content author { ... on Agent { handle } } } usage { totalTokens } }
    ... on AgentReplyFailedEvent { replyStatus error }
    ... on MessageCreatedEvent { message { content author { ... on User { displayName } ... on Agent { handle } } } }
    ... on RoutineRunSucceededEvent { routineName output }
    ... on RoutineRunFailedEvent { routineName error }
  } }`,
  variables: { id: thread },
}, {
  next: ({ data }) => { seen.push(data.threadEvents); onEvent(); },
  error: (error) => { console.error('subscription error', error); process.exit(1); },
  complete: () => {},
});
const waitFor = (what, holds, ms) => Promise.race([
  new Promise((resolve) => {
    const look = () => { const found = holds(); if (found) resolve(found); };
    onEvent = look; look();
  }),
  deadline(ms, what),
]);
// Deltas are not stored, so the subscription must be live before asking:
// typing (also never stored) shows when it is.
const typing = async () => {
  for (;;) {
    await gql(token, `mutation { setTyping(input: {threadId: "${thread}", typing: true}) { typing } }`).catch(() => {});
    if (seen.some((e) => e.type === 'typing.started')) return;
    await new Promise((r) => setTimeout(r, 200));
  }
};
await Promise.race([typing(), deadline(15_000, 'the subscription starts')]);

// 5. Ask.
const sent = await gql(token, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id agentReplies { id status } } } }`,
  { i: { threadId: thread, content: 'How is the weather today?' } });
if (sent.sendMessage.message.agentReplies.length !== 1) throw new Error(`no reply asked: ${JSON.stringify(sent)}`);
const completed = await waitFor('the reply completes', () => seen.find((e) => e.type === 'agent_reply.completed'), 30_000);
const deltas = seen.filter((e) => e.type === 'agent_reply.delta');
const streamed = deltas.map((d) => d.delta).join('');
if (deltas.length < 2) throw new Error(`the reply did not stream in pieces: ${JSON.stringify(deltas)}`);
if (!deltas.every((d, i) => i === 0 || d.sequence > deltas[i - 1].sequence)) throw new Error('deltas out of order');
if (streamed !== 'Sunny, 24 °C, light wind from the west.') throw new Error(`streamed: ${streamed}`);
if (completed.message.content !== streamed || completed.message.author.handle !== 'helper') {
  throw new Error(`completed: ${JSON.stringify(completed)}`);
}
console.log(`reply streamed in ${deltas.length} pieces and was stored: "${completed.message.content}"`);

// 6. Read it back.
const back = await gql(token, `query($id: ID!) { thread(id: $id) { messages(last: 1) { edges { node {
  content status model author { ... on Agent { handle } } } } } } }`, { id: thread });
const stored = back.thread.messages.edges[0].node;
if (stored.content !== streamed || stored.status !== 'COMPLETE' || stored.author.handle !== 'helper') {
  throw new Error(`stored: ${JSON.stringify(stored)}`);
}

// Routines: a one-minute cron posting into the thread.
const routine = (await gql(SK, `mutation($i: CreateRoutineInput!) { createRoutine(input: $i) { routine { id status } } }`, {
  i: { agentId: agent, name: 'Stand-up reminder',
       trigger: { cron: { expression: '* * * * *', timezone: 'Europe/Paris' } },
       action: { postMessage: { threadId: thread, content: 'Stand-up in five minutes!' } } },
})).createRoutine.routine.id;
const activated = await gql(SK, `mutation($i: RoutineIdInput!) { activateRoutine(input: $i) { routine { status nextRunAt } } }`,
  { i: { id: routine } });
console.log(`routine active, next run at ${activated.activateRoutine.routine.nextRunAt}`);
await waitFor('the routine posts into the thread',
  () => seen.find((e) => e.type === 'message.created' && e.message.content === 'Stand-up in five minutes!'), 75_000);
await waitFor('the run is announced', () => seen.find((e) => e.type === 'routine_run.succeeded'), 15_000);
await gql(SK, `mutation($i: RoutineIdInput!) { pauseRoutine(input: $i) { routine { status } } }`, { i: { id: routine } });
console.log('the routine posted "Stand-up in five minutes!" into the thread');

// Webhooks: every delivery verified.
for (const type of ['message.created', 'agent_reply.completed', 'routine_run.succeeded']) {
  const delivery = await Promise.race([delivered(type), deadline(30_000, `a ${type} delivery`)]);
  if (!delivery.signed) throw new Error(`a ${type} delivery did not verify`);
  if (delivery.id !== delivery.event.id) throw new Error('Orbit-Event-Id is not the event id');
}
if (deliveries.some((d) => !d.signed)) throw new Error('a delivery did not verify');
console.log(`webhook receiver verified ${deliveries.length} deliveries`);

await client.dispose();
receiver.close();
console.log('ok');
