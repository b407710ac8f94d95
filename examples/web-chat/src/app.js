// A chat for an app's own users, on @orbit/client: sign up or log in with
// the app's publishable key, list and create threads, and follow one live —
// messages, who is typing, who is online, and agents' replies as they
// stream — resuming behind the last event after any dropped connection.
// The session is kept in sessionStorage (this tab only; never the URL).
import {
  CreateThreadDocument,
  OrbitClient,
  SendMessageDocument,
  SetTypingDocument,
  ThreadMessagesDocument,
  ThreadParticipantsDocument,
  ThreadsDocument,
} from '@orbit/client';

const $ = (id) => document.getElementById(id);
const config = await (await fetch('/config.json')).json();
const stored = sessionStorage.getItem('orbit.chat.session');
const orbit = new OrbitClient({
  url: config.url,
  publishableKey: config.publishableKey,
  session: stored ? JSON.parse(stored) : undefined,
  onSession: (session) =>
    session
      ? sessionStorage.setItem('orbit.chat.session', JSON.stringify(session))
      : sessionStorage.removeItem('orbit.chat.session'),
});

// What a test (or a curious developer) can look at: the open thread.
window.chat = { threadId: null, pieces: {} };

function showError(error) {
  $('error').textContent = error ? `${error.code ?? ''} ${error.field ? `(${error.field}) ` : ''}${error.message}` : '';
}

async function signedIn() {
  $('sign-in').hidden = true;
  $('signed-in').hidden = false;
  $('whoami').textContent = `Signed in as ${orbit.currentSession.user.displayName}`;
  const { threads } = await orbit.request(ThreadsDocument, { first: 50 });
  $('threads').replaceChildren(...threads.edges.map(({ node }) => threadLink(node)));
}

function threadLink(thread) {
  const item = document.createElement('li');
  const link = document.createElement('a');
  link.href = '#';
  link.textContent = thread.title;
  link.onclick = (event) => {
    event.preventDefault();
    openThread(thread.id).catch(showError);
  };
  item.append(link);
  return item;
}

for (const [button, action] of [['sign-up', 'signUp'], ['log-in', 'logIn']]) {
  $(button).onclick = async () => {
    showError(null);
    try {
      const input = { email: $('email').value, password: $('password').value };
      if (action === 'signUp') input.displayName = $('name').value;
      await orbit[action](input);
      await signedIn();
    } catch (error) {
      showError(error);
    }
  };
}

$('new-thread-form').onsubmit = async (event) => {
  event.preventDefault();
  showError(null);
  try {
    const { createThread } = await orbit.request(CreateThreadDocument, { input: { title: $('new-thread').value } });
    $('threads').prepend(threadLink(createThread.thread));
    $('new-thread').value = '';
    await openThread(createThread.thread.id);
  } catch (error) {
    showError(error);
  }
};

let stopFollowing = () => {};
const typingUsers = new Map(); // userId → when their typing lapses
const names = new Map(); // userId → display name

function addMessage(message) {
  if (document.querySelector(`[data-message="${message.id}"]`)) return;
  const line = document.createElement('div');
  const agent = message.author?.__typename === 'Agent';
  line.className = `message${agent ? ' agent' : ''}`;
  line.dataset.message = message.id;
  const who = agent ? `@${message.author.handle}` : message.author?.displayName ?? 'someone';
  line.textContent = `${who}: ${message.content ?? '(deleted)'}`;
  $('messages').append(line);
}

/** Replies that ended: a piece published late (deltas skip the event log) is dropped. */
const endedReplies = new Set();

/** A reply as it streams: one line per reply, its text growing piece by piece. */
function addDelta(event) {
  if (endedReplies.has(event.replyId)) return;
  let line = document.querySelector(`[data-reply="${event.replyId}"]`);
  if (!line || Number(line.dataset.attempt) !== event.attempt) {
    line?.remove();
    line = document.createElement('div');
    line.className = 'message agent streaming';
    line.dataset.reply = event.replyId;
    line.dataset.attempt = event.attempt;
    line.dataset.pieces = '0';
    line.textContent = '… ';
    $('messages').append(line);
  }
  line.textContent += event.delta;
  line.dataset.pieces = String(Number(line.dataset.pieces) + 1);
  window.chat.pieces[event.replyId] = Number(line.dataset.pieces);
}

function showTyping() {
  const now = Date.now();
  const who = [...typingUsers].filter(([, until]) => until > now).map(([id]) => names.get(id) ?? 'someone');
  $('typing').textContent = who.length ? `${who.join(', ')} typing…` : '';
}
setInterval(showTyping, 1000);

async function showParticipants(threadId) {
  const { thread } = await orbit.request(ThreadParticipantsDocument, { id: threadId });
  const people = thread.participants.map(({ user, agent }) => {
    if (user) {
      names.set(user.id, user.displayName);
      return `${user.displayName} (${user.presence.toLowerCase()})`;
    }
    return `@${agent.handle} (agent)`;
  });
  $('participants').textContent = people.join(', ');
}

async function openThread(threadId) {
  stopFollowing();
  window.chat.threadId = threadId;
  $('thread').hidden = false;
  $('messages').replaceChildren();
  const { thread } = await orbit.request(ThreadMessagesDocument, { id: threadId, last: 50 });
  $('title').textContent = thread.title;
  for (const { node } of thread.messages.edges) addMessage(node);
  await showParticipants(threadId);
  const stop = orbit.followThread(threadId, {
    onEvent: (event) => {
      $('connection').textContent = 'live';
      switch (event.__typename) {
        case 'MessageCreatedEvent':
          if (event.message) {
            addMessage(event.message);
            if (event.message.author?.__typename === 'User') typingUsers.delete(event.message.author.id);
          }
          break;
        case 'AgentReplyDeltaEvent':
          addDelta(event);
          break;
        case 'AgentReplyCompletedEvent':
        case 'AgentReplyFailedEvent':
          // The stored message (its message.created came first) replaces
          // the streamed text.
          endedReplies.add(event.replyId);
          document.querySelector(`[data-reply="${event.replyId}"]`)?.remove();
          break;
        case 'TypingEvent':
          if (event.userId && event.userId !== orbit.currentSession.user.id) {
            typingUsers.set(event.userId, event.typing ? Date.now() + 6000 : 0);
            showTyping();
          }
          break;
        case 'ParticipantAddedEvent':
        case 'ParticipantRemovedEvent':
          showParticipants(threadId).catch(showError);
          break;
      }
    },
    onReload: () => openThread(threadId),
    onEnd: (reason) => {
      $('connection').textContent = `ended (${reason})`;
    },
  });
  // Presence is a team's event; a thread shows it as of now, every 10 s.
  const presence = setInterval(() => showParticipants(threadId).catch(() => {}), 10_000);
  stopFollowing = () => {
    stop();
    clearInterval(presence);
  };
}

let typingSent = 0;
$('composer').oninput = () => {
  if (!window.chat.threadId || Date.now() - typingSent < 3000) return;
  typingSent = Date.now();
  orbit.request(SetTypingDocument, { input: { threadId: window.chat.threadId, typing: true } }).catch(() => {});
};

$('composer-form').onsubmit = async (event) => {
  event.preventDefault();
  showError(null);
  try {
    const content = $('composer').value;
    $('composer').value = '';
    typingSent = 0;
    await orbit.request(SendMessageDocument, { input: { threadId: window.chat.threadId, content } });
  } catch (error) {
    showError(error);
  }
};

$('reconnect').onclick = () => {
  $('connection').textContent = 'reconnecting…';
  orbit.reconnect();
};

if (orbit.currentSession) signedIn().catch(showError);
