// Drives a running Orbit with the reference `graphql-ws` client, doing what
// docs/realtime.md tells client developers to do, and fails loudly if the
// server does not answer as the guide says.
//
//   ORBIT_URL=http://127.0.0.1:8080 PK=pk_... node check.mjs
//
// PK is an app's publishable key (from `orbit admin create-app`).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = process.env.ORBIT_URL ?? 'http://127.0.0.1:8080';
const HTTP = `${base}/graphql`;
const WS = HTTP.replace(/^http/, 'ws');
const PK = process.env.PK;
if (!PK) throw new Error('set PK to a publishable key');

async function gql(credential, query, variables = {}) {
  const response = await fetch(HTTP, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

function check(condition, what) {
  if (!condition) {
    console.error('FAIL', what);
    process.exit(1);
  }
  console.log('ok  ', what);
}

// One socket per client (`lazy`: opened by the first operation).
function connect(token) {
  return createClient({
    url: WS,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
}

// A query on the same socket runs only once the subscriptions sent before it
// listen (docs/realtime.md, "When a subscription is live").
async function listening(client) {
  for await (const _ of client.iterate({ query: '{ viewer { kind } }' })) break;
}

async function next(iterator) {
  const { value, done } = await iterator.next();
  if (done) throw new Error('the subscription ended');
  return value.data;
}

const signUp = async (name) =>
  (
    await gql(PK, 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id email } } }', {
      i: { email: `${name}-${Date.now()}@example.com`, password: 'correct horse battery staple', displayName: name },
    })
  ).signUp;

const alice = await signUp('alice');
const bob = await signUp('bob');
const team = (await gql(alice.accessToken, 'mutation { createTeam(input: { name: "Crew" }) { team { id } } }')).createTeam.team.id;
const { code } = (
  await gql(alice.accessToken, 'mutation($i: InviteTeamMemberInput!) { inviteTeamMember(input: $i) { invitation { code } } }', {
    i: { teamId: team, email: bob.user.email, role: 'MEMBER' },
  })
).inviteTeamMember.invitation;
await gql(bob.accessToken, 'mutation($c: String!) { joinTeam(input: { code: $c }) { team { id } } }', { c: code });
const thread = (
  await gql(alice.accessToken, 'mutation($t: ID!) { createThread(input: { title: "Plans", teamId: $t }) { thread { id } } }', { t: team })
).createThread.thread.id;
const send = (content) =>
  gql(alice.accessToken, 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } } }', {
    i: { threadId: thread, content },
  });

const THREAD_EVENTS = `subscription($threadId: ID!, $after: String) {
  threadEvents(threadId: $threadId, after: $after) {
    __typename
    ... on Event { cursor type occurredAt }
    ... on MessageCreatedEvent { message { id content } }
    ... on TypingEvent { userId typing }
  }
}`;

// A live subscription: messages and typing.
const first = connect(bob.accessToken);
const live = first.iterate({ query: THREAD_EVENTS, variables: { threadId: thread } });
const pending = live.next();
await listening(first);
await send('hello');
const created = (await pending).value.data.threadEvents;
check(created.__typename === 'MessageCreatedEvent' && created.message.content === 'hello', 'a message arrives as MessageCreatedEvent');
await gql(alice.accessToken, 'mutation($i: SetTypingInput!) { setTyping(input: $i) { typing } }', {
  i: { threadId: thread, typing: true },
});
const typing = (await next(live)).threadEvents;
check(typing.__typename === 'TypingEvent' && typing.typing && typing.userId === alice.user.id, 'setTyping arrives as TypingEvent');
await live.return();
await first.dispose();

// Resuming with the cursor of the last event handled: what was missed, in
// order, once.
await send('missed 1');
await send('missed 2');
const second = connect(bob.accessToken);
const resumed = second.iterate({ query: THREAD_EVENTS, variables: { threadId: thread, after: created.cursor } });
const replayed = [(await next(resumed)).threadEvents.message.content, (await next(resumed)).threadEvents.message.content];
check(replayed.join() === 'missed 1,missed 2', `resuming with after replays ${JSON.stringify(replayed)}`);
await resumed.return();
await second.dispose();

// A cursor that is not one: refused with BAD_USER_INPUT on `after`.
const third = connect(bob.accessToken);
try {
  await next(third.iterate({ query: THREAD_EVENTS, variables: { threadId: thread, after: 'not-a-cursor' } }));
  check(false, 'a bad cursor is refused');
} catch (errors) {
  const error = Array.isArray(errors) ? errors[0] : errors;
  const { code: errorCode, details } = error?.extensions ?? {};
  check(errorCode === 'BAD_USER_INPUT' && details?.field === 'after', `a bad cursor is refused (${errorCode} on ${details?.field})`);
}
await third.dispose();

// Presence: Alice follows the team; Bob's socket brings him online, and
// closing it takes him offline.
const watcher = connect(alice.accessToken);
const teamEvents = watcher.iterate({
  query: 'subscription($id: ID!) { teamEvents(teamId: $id) { __typename ... on PresenceChangedEvent { userId status } } }',
  variables: { id: team },
});
const presence = teamEvents.next();
await listening(watcher);
const bobSocket = connect(bob.accessToken);
// An open subscription keeps the lazy client's socket open.
bobSocket.iterate({ query: 'subscription { userEvents { __typename } }' }).next().catch(() => {});
await listening(bobSocket);
const online = (await presence).value.data.teamEvents;
check(online.__typename === 'PresenceChangedEvent' && online.userId === bob.user.id && online.status === 'ONLINE', 'Bob connecting is presence.changed ONLINE');
const status = (await gql(alice.accessToken, 'query($id: ID!) { user(id: $id) { presence } }', { id: bob.user.id })).user.presence;
check(status === 'ONLINE', 'User.presence reads ONLINE');
await bobSocket.dispose();
const offline = (await next(teamEvents)).teamEvents;
check(offline.userId === bob.user.id && offline.status === 'OFFLINE', 'Bob closing his socket is presence.changed OFFLINE');
await teamEvents.return();
await watcher.dispose();
